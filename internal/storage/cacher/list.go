package cacher

import (
	"context"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/svcnet/svcnet/internal/storage"
)

// listPlan says whether the cache answers a list, and how.
type listPlan struct {
	fromCache  bool
	consistent bool  // resourceVersion "": wait for the store's current revision
	minRev     int64 // otherwise the revision the cache must have reached
	limit      int64
}

// planList decides as kube-apiserver's cache delegator: exact reads and
// continue tokens go to the store, everything else is answered from the
// cache. Requests the store refuses (bad resourceVersion, unknown match)
// go to the store, which gives the error.
func planList(opts storage.ListOptions) listPlan {
	if opts.Continue != "" {
		return listPlan{}
	}
	switch metav1.ResourceVersionMatch(opts.ResourceVersionMatch) {
	case metav1.ResourceVersionMatchNotOlderThan:
	case "":
		if opts.Limit > 0 && opts.ResourceVersion != "" && opts.ResourceVersion != "0" {
			return listPlan{} // legacy paging reads exactly at the revision
		}
	default: // Exact, or unknown
		return listPlan{}
	}
	p := listPlan{fromCache: true, limit: max(opts.Limit, 0)}
	switch opts.ResourceVersion {
	case "":
		p.consistent = true
	case "0":
		// Any state will do; like kube-apiserver, the whole list in one
		// page (a page of a stale list could not be continued for long).
		p.limit = 0
	default:
		rv, err := strconv.ParseInt(opts.ResourceVersion, 10, 64)
		if err != nil || rv < 0 {
			return listPlan{}
		}
		p.minRev = rv
	}
	return p
}

// GetList implements storage.Interface: from the cache of prefix when
// there is one and the request may be answered from memory (see the
// package documentation), else from the store.
func (c *Cacher) GetList(ctx context.Context, prefix string, opts storage.ListOptions, listObj runtime.Object) error {
	if !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	r := c.resourceFor(prefix)
	p := planList(opts)
	if r == nil || !p.fromCache {
		return c.Interface.GetList(ctx, prefix, opts, listObj)
	}
	items, ok := itemsOf(listObj, r.itemType)
	if !ok {
		return c.Interface.GetList(ctx, prefix, opts, listObj)
	}
	minRev := p.minRev
	if p.consistent {
		if !r.cache.isReady() {
			return c.Interface.GetList(ctx, prefix, opts, listObj)
		}
		rev, err := c.Interface.CurrentRevision(ctx)
		if err != nil {
			return err
		}
		minRev = rev
	}
	if !r.cache.wait(ctx, minRev, c.waitTimeout) {
		return c.Interface.GetList(ctx, prefix, opts, listObj)
	}
	sel, err := r.cache.selectRange(prefix, p.limit, opts.Predicate)
	if err != nil {
		return err
	}
	return fill(listObj, items, prefix, sel, c.share)
}

// itemsOf returns the Items slice of listObj when it holds objects of
// itemType (or pointers to them).
func itemsOf(listObj runtime.Object, itemType reflect.Type) (reflect.Value, bool) {
	ptr, err := meta.GetItemsPtr(listObj)
	if err != nil {
		return reflect.Value{}, false
	}
	v := reflect.ValueOf(ptr)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Slice {
		return reflect.Value{}, false
	}
	v = v.Elem()
	elem := v.Type().Elem()
	return v, elem == itemType || (elem.Kind() == reflect.Pointer && elem.Elem() == itemType)
}

// fill sets the items of a list to copies of the selection (deep, or of
// the top-level struct when share: either way a caller's change of an
// item's own fields never reaches the cache), and its resourceVersion,
// continue token and remaining count as the store does.
func fill(listObj runtime.Object, items reflect.Value, prefix string, sel selection, share bool) error {
	pointers := items.Type().Elem().Kind() == reflect.Pointer
	out := reflect.MakeSlice(items.Type(), len(sel.objs), len(sel.objs))
	for i, obj := range sel.objs {
		var cp reflect.Value // a pointer to the copy
		if share {
			if !pointers {
				out.Index(i).Set(reflect.ValueOf(obj).Elem())
				continue
			}
			cp = reflect.New(reflect.TypeOf(obj).Elem())
			cp.Elem().Set(reflect.ValueOf(obj).Elem())
		} else {
			cp = reflect.ValueOf(obj.DeepCopyObject())
		}
		if pointers {
			out.Index(i).Set(cp)
		} else {
			out.Index(i).Set(cp.Elem())
		}
	}
	items.Set(out)
	la, err := meta.ListAccessor(listObj)
	if err != nil {
		return err
	}
	la.SetResourceVersion(strconv.FormatInt(sel.rev, 10))
	la.SetContinue("")
	la.SetRemainingItemCount(nil)
	if sel.hasMore {
		token, err := storage.EncodeContinue(prefix, sel.lastKey+"\x00", sel.rev)
		if err != nil {
			return fmt.Errorf("continue token: %w", err)
		}
		la.SetContinue(token)
		if sel.remaining >= 0 {
			la.SetRemainingItemCount(&sel.remaining)
		}
	}
	return nil
}

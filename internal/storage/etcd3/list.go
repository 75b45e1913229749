package etcd3

import (
	"context"
	"fmt"
	"reflect"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/svcnet/svcnet/internal/storage"
)

// maxListBatch bounds how many keys one etcd read fetches while a
// filtered, paginated list looks for enough matching objects.
const maxListBatch = 10000

// listPlan says how GetList reads: at which revision (0 = newest), with
// which consistency, and which revision the result must at least have.
type listPlan struct {
	rev          int64
	serializable bool
	minRev       int64
	continuing   bool
	start        string
}

func planList(prefix string, opts storage.ListOptions) (listPlan, error) {
	p := listPlan{start: prefix}
	if opts.Continue != "" {
		if opts.ResourceVersion != "" && opts.ResourceVersion != "0" {
			return p, apierrors.NewBadRequest("specifying resource version is not allowed when using continue")
		}
		start, rev, err := storage.DecodeContinue(opts.Continue, prefix)
		if err != nil {
			return p, err
		}
		p.start, p.rev, p.continuing = start, rev, true
		return p, nil
	}
	rv, err := parseRV(opts.ResourceVersion)
	if err != nil {
		return p, errBadRV(opts.ResourceVersion)
	}
	switch metav1.ResourceVersionMatch(opts.ResourceVersionMatch) {
	case metav1.ResourceVersionMatchNotOlderThan:
		p.minRev = rv
	case metav1.ResourceVersionMatchExact:
		if rv == 0 {
			return p, apierrors.NewBadRequest(`resourceVersionMatch "Exact" requires a resourceVersion greater than 0`)
		}
		p.rev = rv
	case "":
		switch {
		case opts.ResourceVersion == "":
			// Most recent: a linearizable (quorum) read.
		case rv == 0:
			p.serializable = true
		case opts.Limit > 0:
			// Legacy paging from a resourceVersion reads exactly there.
			p.rev = rv
		default:
			p.minRev = rv
		}
	default:
		return p, apierrors.NewBadRequest(fmt.Sprintf("unknown ResourceVersionMatch value: %v", opts.ResourceVersionMatch))
	}
	return p, nil
}

// GetList implements storage.Interface.
func (s *Store) GetList(ctx context.Context, prefix string, opts storage.ListOptions, listObj runtime.Object) error {
	prefix = dirPrefix(prefix)
	items, err := listItems(listObj)
	if err != nil {
		return err
	}
	plan, err := planList(prefix, opts)
	if err != nil {
		return err
	}
	limit := opts.Limit
	if limit < 0 {
		limit = 0
	}
	batch := limit
	end := clientv3.GetPrefixRangeEnd(prefix)
	start := plan.start
	rev := plan.rev
	var (
		count     int64
		hasMore   bool
		lastKey   string
		remaining int64 = -1
	)
	for {
		getOpts := []clientv3.OpOption{clientv3.WithRange(end)}
		if batch > 0 {
			getOpts = append(getOpts, clientv3.WithLimit(batch))
		}
		if rev > 0 {
			getOpts = append(getOpts, clientv3.WithRev(rev))
		}
		if plan.serializable {
			getOpts = append(getOpts, clientv3.WithSerializable())
		}
		resp, err := s.client.Get(ctx, start, getOpts...)
		if err != nil {
			return s.listError(ctx, err, plan, rev)
		}
		if rev == 0 {
			rev = resp.Header.Revision
			if plan.minRev > rev {
				return errTooLargeRV(plan.minRev, rev)
			}
		}
		consumed := 0
		full := false
		for _, kv := range resp.Kvs {
			if limit > 0 && count == limit {
				full = true
				break
			}
			consumed++
			lastKey = string(kv.Key)
			ok, err := s.appendItem(items, kv, opts.Predicate)
			if err != nil {
				return err
			}
			if ok {
				count++
			}
		}
		if limit > 0 && count == limit && (full || resp.More) {
			hasMore = true
			if opts.Predicate == nil {
				remaining = resp.Count - int64(consumed)
			}
			break
		}
		if !resp.More || len(resp.Kvs) == 0 {
			break
		}
		start = lastKey + "\x00"
		if batch < maxListBatch {
			batch *= 2
			if batch > maxListBatch {
				batch = maxListBatch
			}
		}
	}

	la, err := meta.ListAccessor(listObj)
	if err != nil {
		return err
	}
	la.SetResourceVersion(formatRV(rev))
	la.SetContinue("")
	la.SetRemainingItemCount(nil)
	if hasMore {
		token, err := storage.EncodeContinue(prefix, lastKey+"\x00", rev)
		if err != nil {
			return err
		}
		la.SetContinue(token)
		if remaining >= 0 {
			la.SetRemainingItemCount(&remaining)
		}
	}
	return nil
}

// listError maps an etcd read error of GetList.
func (s *Store) listError(ctx context.Context, err error, plan listPlan, rev int64) error {
	switch {
	case isCompacted(err) && plan.continuing:
		return errContinueTooOld()
	case isCompacted(err):
		return errListTooOld()
	case isFutureRev(err):
		cur, cerr := s.CurrentRevision(ctx)
		if cerr != nil {
			return cerr
		}
		return errTooLargeRV(rev, cur)
	}
	return fmt.Errorf("listing: %w", err)
}

// itemSlice appends decoded objects to the Items field of a list.
type itemSlice struct {
	v       reflect.Value // the Items slice
	elem    reflect.Type  // struct type of one item
	pointer bool          // Items holds pointers
	codec   *codec
}

func listItems(listObj runtime.Object) (*itemSlice, error) {
	ptr, err := meta.GetItemsPtr(listObj)
	if err != nil {
		return nil, err
	}
	v := reflect.ValueOf(ptr).Elem()
	if v.Kind() != reflect.Slice {
		return nil, fmt.Errorf("%T: Items is not a slice", listObj)
	}
	it := &itemSlice{v: v, elem: v.Type().Elem()}
	if it.elem.Kind() == reflect.Pointer {
		it.elem, it.pointer = it.elem.Elem(), true
	}
	if it.elem.Kind() != reflect.Struct || !reflect.PointerTo(it.elem).Implements(reflect.TypeOf((*runtime.Object)(nil)).Elem()) {
		return nil, fmt.Errorf("%T: items are not API objects", listObj)
	}
	v.Set(reflect.MakeSlice(v.Type(), 0, 0))
	return it, nil
}

// appendItem decodes kv and appends it when pred matches.
func (s *Store) appendItem(items *itemSlice, kv *mvccpb.KeyValue, pred func(runtime.Object) (bool, error)) (bool, error) {
	ptr := reflect.New(items.elem)
	obj := ptr.Interface().(runtime.Object)
	if err := s.decodeStored(string(kv.Key), kv.Value, obj, kv.ModRevision); err != nil {
		return false, fmt.Errorf("%s: %w", kv.Key, err)
	}
	if pred != nil {
		ok, err := pred(obj)
		if err != nil || !ok {
			return false, err
		}
	}
	if items.pointer {
		items.v.Set(reflect.Append(items.v, ptr))
	} else {
		items.v.Set(reflect.Append(items.v, ptr.Elem()))
	}
	return true, nil
}

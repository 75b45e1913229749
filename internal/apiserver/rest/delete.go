package rest

import (
	"context"
	"fmt"
	"net/http"
	"time"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/svcnet/svcnet/internal/registry"
	"github.com/svcnet/svcnet/internal/storage"
)

// GracefulDeleter is implemented by strategies of resources whose objects
// first get a deletionTimestamp and are removed later by their owner (pods:
// the node agent removes them once the containers stopped).
type GracefulDeleter interface {
	// CheckGracefulDelete adjusts opts.GracePeriodSeconds and reports
	// whether obj should be deleted gracefully.
	CheckGracefulDelete(ctx context.Context, obj runtime.Object, opts *metav1.DeleteOptions) bool
}

// Finalizers the API server adds for the propagation policies (the
// garbage collector removes them).
const (
	finalizerOrphan     = metav1.FinalizerOrphanDependents
	finalizerForeground = metav1.FinalizerDeleteDependents
)

func (h *Handler) deleteOptions(r *http.Request) (*metav1.DeleteOptions, error) {
	opts := &metav1.DeleteOptions{}
	body, err := readBody(r)
	if err != nil {
		return nil, err
	}
	if len(body) > 0 {
		obj, _, err := h.cfg.Codecs.decodeBody(bodyMediaType(r), body, opts, metav1.FieldValidationIgnore)
		if err != nil {
			return nil, apierrors.NewBadRequest(err.Error())
		}
		if o, ok := obj.(*metav1.DeleteOptions); ok {
			opts = o
		}
	}
	// Options come from the body when there is one, else from the query
	// (the query conversion resets every field it does not find).
	if len(body) == 0 {
		q := r.URL.Query()
		if err := metav1.Convert_url_Values_To_v1_DeleteOptions(&q, opts, nil); err != nil {
			return nil, apierrors.NewBadRequest(err.Error())
		}
	}
	if opts.PropagationPolicy != nil {
		switch *opts.PropagationPolicy {
		case metav1.DeletePropagationBackground, metav1.DeletePropagationForeground, metav1.DeletePropagationOrphan:
		default:
			return nil, apierrors.NewBadRequest("propagationPolicy: Unsupported value: \"" + string(*opts.PropagationPolicy) +
				"\": supported values: \"Foreground\", \"Background\", \"Orphan\"")
		}
	}
	return opts, nil
}

func (h *Handler) delete(w http.ResponseWriter, r *http.Request, info RequestInfo) {
	opts, err := h.deleteOptions(r)
	if err != nil {
		h.writeError(w, r, err, info.Name)
		return
	}
	ctx, cancel := requestContext(r)
	defer cancel()
	out, err := h.deleteObject(ctx, info.Namespace, info.Name, opts)
	if err != nil {
		h.writeError(w, r, err, info.Name)
		return
	}
	h.writeObject(w, r, http.StatusOK, out)
}

// deleteObject deletes one object: at once, or by marking it with a
// deletionTimestamp when finalizers or a grace period must run first.
func (h *Handler) deleteObject(ctx context.Context, ns, name string, opts *metav1.DeleteOptions) (runtime.Object, error) {
	key := h.key(ns, name)
	dryRun := contains(opts.DryRun, metav1.DryRunAll)
	for {
		cur := h.res.New()
		if err := h.cfg.Store.Get(ctx, key, cur); err != nil {
			return nil, err
		}
		acc, _ := meta.Accessor(cur)
		if p := opts.Preconditions; p != nil {
			if p.UID != nil && *p.UID != acc.GetUID() {
				return nil, apierrors.NewConflict(h.gr, name, errPrecondition("UID", string(*p.UID), string(acc.GetUID())))
			}
			if p.ResourceVersion != nil && *p.ResourceVersion != acc.GetResourceVersion() {
				return nil, apierrors.NewConflict(h.gr, name,
					errPrecondition("ResourceVersion", *p.ResourceVersion, acc.GetResourceVersion()))
			}
		}
		if err := h.admit(ctx, registry.Delete, "", nil, cur, dryRun); err != nil {
			return nil, err
		}
		pending, marked := h.markForDeletion(ctx, cur, opts)
		if dryRun {
			return marked, nil
		}
		uid, rv := acc.GetUID(), acc.GetResourceVersion()
		pre := &storage.Preconditions{UID: &uid, ResourceVersion: &rv}
		if pending {
			if !changed(cur, marked) {
				return cur, nil
			}
			out := h.res.New()
			err := h.cfg.Store.GuaranteedUpdate(ctx, key, out, false, pre, func(runtime.Object) (runtime.Object, storage.WriteOptions, error) {
				return marked, storage.WriteOptions{TTL: h.res.TTL}, nil
			})
			if isRace(err) {
				continue
			}
			return out, err
		}
		var release storage.WriteOptions
		if h.res.Hooks != nil {
			release = h.res.Hooks.BeforeDelete(ctx, cur)
		}
		out := h.res.New()
		err := h.cfg.Store.Delete(ctx, key, out, pre, nil, release)
		if isRace(err) {
			continue
		}
		return out, err
	}
}

// markForDeletion returns whether deletion has to wait (finalizers, grace
// period, namespace content) and the object as it should then be stored.
func (h *Handler) markForDeletion(ctx context.Context, cur runtime.Object, opts *metav1.DeleteOptions) (bool, runtime.Object) {
	obj := cur.DeepCopyObject()
	acc, _ := meta.Accessor(obj)
	now := metav1.NewTime(h.nowFunc())
	finalizers := acc.GetFinalizers()
	if opts.PropagationPolicy != nil && acc.GetDeletionTimestamp() == nil {
		switch *opts.PropagationPolicy {
		case metav1.DeletePropagationForeground:
			finalizers = appendMissing(finalizers, finalizerForeground)
		case metav1.DeletePropagationOrphan:
			finalizers = appendMissing(finalizers, finalizerOrphan)
		}
	} else if opts.OrphanDependents != nil && *opts.OrphanDependents && acc.GetDeletionTimestamp() == nil {
		finalizers = appendMissing(finalizers, finalizerOrphan)
	}
	acc.SetFinalizers(finalizers)

	if gd, ok := h.res.Strategy.(GracefulDeleter); ok && gd.CheckGracefulDelete(ctx, obj, opts) {
		grace := int64(0)
		if opts.GracePeriodSeconds != nil {
			grace = *opts.GracePeriodSeconds
		}
		if grace > 0 {
			// A graceful deletion may only shorten an earlier one.
			if old := acc.GetDeletionGracePeriodSeconds(); old != nil && *old < grace {
				return true, obj
			}
			ts := metav1.NewTime(now.Add(secondsDuration(grace)))
			acc.SetDeletionTimestamp(&ts)
			acc.SetDeletionGracePeriodSeconds(&grace)
			return true, obj
		}
	}
	if h.res.Group == "" && h.res.Resource == "namespaces" {
		if namespaceHasSpecFinalizers(obj) || len(finalizers) > 0 {
			if acc.GetDeletionTimestamp() == nil {
				acc.SetDeletionTimestamp(&now)
				zero := int64(0)
				acc.SetDeletionGracePeriodSeconds(&zero)
			}
			setNamespaceTerminating(obj)
			return true, obj
		}
	}
	if len(finalizers) > 0 {
		if acc.GetDeletionTimestamp() == nil {
			acc.SetDeletionTimestamp(&now)
			zero := int64(0)
			acc.SetDeletionGracePeriodSeconds(&zero)
		}
		return true, obj
	}
	return false, obj
}

func (h *Handler) deleteCollection(w http.ResponseWriter, r *http.Request, info RequestInfo) {
	opts, err := h.deleteOptions(r)
	if err != nil {
		h.writeError(w, r, err, "")
		return
	}
	lopts, err := h.listOptions(r)
	if err != nil {
		h.writeError(w, r, err, "")
		return
	}
	pred, err := h.predicate(lopts)
	if err != nil {
		h.writeError(w, r, err, "")
		return
	}
	ctx, cancel := requestContext(r)
	defer cancel()
	list := h.newList()
	if err := h.cfg.Store.GetList(ctx, h.listPrefix(info.Namespace), storage.ListOptions{Predicate: pred}, list); err != nil {
		h.writeError(w, r, err, "")
		return
	}
	deleted := h.newList()
	var items []runtime.Object
	err = meta.EachListItem(list, func(item runtime.Object) error {
		acc, err := meta.Accessor(item)
		if err != nil {
			return err
		}
		out, err := h.deleteObject(ctx, acc.GetNamespace(), acc.GetName(), opts)
		if storage.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		items = append(items, out)
		return nil
	})
	if err != nil {
		h.writeError(w, r, err, "")
		return
	}
	if err := meta.SetList(deleted, items); err != nil {
		h.writeError(w, r, err, "")
		return
	}
	h.writeObject(w, r, http.StatusOK, deleted)
}

// isRace reports an error that means the object changed between read and
// write, so the delete is tried again on the new state.
func isRace(err error) bool {
	return err != nil && (storage.IsConflict(err) || storage.IsInvalidPrecondition(err))
}

func appendMissing(list []string, s string) []string {
	if contains(list, s) {
		return list
	}
	return append(list, s)
}

func errPrecondition(what, want, got string) error {
	return fmt.Errorf("Precondition failed: %s in precondition: %s, %s in object meta: %s", what, want, what, got)
}

// changed reports whether marking for deletion changed anything.
func changed(a, b runtime.Object) bool { return !apiequality.Semantic.DeepEqual(a, b) }

func secondsDuration(s int64) time.Duration { return time.Duration(s) * time.Second }

package rest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/svcnet/svcnet/internal/registry"
	"github.com/svcnet/svcnet/internal/storage"
)

// maxAllocationRetries bounds how often a write is retried after a
// dynamically chosen IP or port turned out to be taken by a concurrent
// writer (another server, or a stale in-memory bitmap).
const maxAllocationRetries = 16

// writeRequest holds the options common to every write.
type writeRequest struct {
	dryRun     bool
	manager    string
	validation string
	// sub is the subresource written ("", "status" or one of
	// Resource.UpdateSubresources).
	sub string
}

func (h *Handler) parseWrite(r *http.Request, info RequestInfo) (writeRequest, error) {
	wr := writeRequest{dryRun: isDryRun(r), sub: info.Subresource}
	for _, v := range r.URL.Query()["dryRun"] {
		if v != metav1.DryRunAll {
			return wr, apierrors.NewBadRequest(fmt.Sprintf("Invalid dryRun: Unsupported value: %q: supported values: \"All\"", v))
		}
	}
	var err error
	if wr.manager, err = fieldManagerName(r); err != nil {
		return wr, err
	}
	if wr.validation, err = fieldValidation(r); err != nil {
		return wr, err
	}
	return wr, nil
}

// errDryRun aborts a storage update after the object has been computed:
// the computed object travels back to the handler inside it.
type errDryRun struct{ obj runtime.Object }

func (e *errDryRun) Error() string { return "dry run" }

func (h *Handler) create(w http.ResponseWriter, r *http.Request, info RequestInfo) {
	wr, obj, warnings, err := h.readWrite(r, info, nil)
	if err != nil {
		h.writeError(w, r, err, "")
		return
	}
	h.res.Strategy.Default(obj)
	ctx, cancel := requestContext(r)
	defer cancel()
	out, err := h.createObject(ctx, obj, wr)
	if err != nil {
		h.writeError(w, r, err, nameOf(obj))
		return
	}
	addWarnings(w, warnings)
	h.writeObject(w, r, http.StatusCreated, out)
}

// createObject runs the create pipeline on a decoded, defaulted object.
func (h *Handler) createObject(ctx context.Context, obj runtime.Object, wr writeRequest) (runtime.Object, error) {
	if err := h.prepareCreate(ctx, obj, wr, false); err != nil {
		return nil, err
	}
	acc, _ := meta.Accessor(obj)
	key := h.key(acc.GetNamespace(), acc.GetName())
	for attempt := 0; ; attempt++ {
		candidate := obj.DeepCopyObject()
		var opts storage.WriteOptions
		if h.res.Hooks != nil {
			var err error
			if opts, err = h.res.Hooks.BeforeCreate(ctx, candidate); err != nil {
				return nil, err
			}
		}
		if wr.dryRun {
			return candidate, nil
		}
		opts.TTL = h.res.TTL
		out := h.res.New()
		err := h.cfg.Store.Create(ctx, key, candidate, out, opts)
		if err == nil {
			return out, nil
		}
		if err = h.reservationConflict(candidate, err, attempt); err != nil {
			return nil, err
		}
	}
}

// reservationConflict decides whether a failed write is retried: nil means
// a dynamically allocated key was taken and the write should run again.
func (h *Handler) reservationConflict(obj runtime.Object, err error, attempt int) error {
	var re *storage.ReservedError
	if h.res.Hooks == nil || !errors.As(err, &re) {
		return err
	}
	if cerr := h.res.Hooks.ReservationConflict(obj, re.Key); cerr != nil {
		return cerr
	}
	if attempt+1 >= maxAllocationRetries {
		return apierrors.NewServerTimeout(h.gr, "create", 1)
	}
	return nil
}

// prepareCreate sets server-owned metadata, then prepares and validates.
// tracked says managedFields were already computed (server-side apply).
func (h *Handler) prepareCreate(ctx context.Context, obj runtime.Object, wr writeRequest, tracked bool) error {
	acc, err := meta.Accessor(obj)
	if err != nil {
		return err
	}
	if acc.GetResourceVersion() != "" {
		return apierrors.NewBadRequest("resourceVersion should not be set on objects to be created")
	}
	if acc.GetName() == "" && acc.GetGenerateName() != "" {
		acc.SetName(generateName(acc.GetGenerateName()))
	}
	acc.SetUID(uuid.NewUUID())
	acc.SetCreationTimestamp(metav1.NewTime(h.nowFunc()))
	acc.SetDeletionTimestamp(nil)
	acc.SetDeletionGracePeriodSeconds(nil)
	acc.SetSelfLink("")
	h.res.Strategy.PrepareForCreate(ctx, obj)
	if errs := h.res.Strategy.Validate(ctx, obj); len(errs) > 0 {
		return apierrors.NewInvalid(h.res.GroupVersionKind().GroupKind(), acc.GetName(), errs)
	}
	if err := h.admit(ctx, registry.Create, "", obj, nil, wr.dryRun); err != nil {
		return err
	}
	if fm := h.managers[""]; fm != nil && !tracked {
		updated, err := fm.Update(h.res.New(), obj, wr.manager)
		if err != nil {
			return apierrors.NewInternalError(err)
		}
		copyInto(obj, updated)
	}
	return nil
}

// generateName appends kube-apiserver's five random characters.
func generateName(base string) string {
	const maxNameLength, randomLength = 63, 5
	if len(base) > maxNameLength-randomLength {
		base = base[:maxNameLength-randomLength]
	}
	return base + utilrand.String(randomLength)
}

func (h *Handler) update(w http.ResponseWriter, r *http.Request, info RequestInfo) {
	wr, err := h.parseWrite(r, info)
	if err != nil {
		h.writeError(w, r, err, info.Name)
		return
	}
	body, err := readBody(r)
	if err != nil {
		h.writeError(w, r, err, info.Name)
		return
	}
	obj, warnings, err := h.decodeObject(r, body, wr.validation)
	if err != nil {
		h.writeError(w, r, err, info.Name)
		return
	}
	if err := h.checkNamespaceAndName(obj, info); err != nil {
		h.writeError(w, r, err, info.Name)
		return
	}
	h.res.Strategy.Default(obj)
	ctx, cancel := requestContext(r)
	defer cancel()
	out, created, err := h.updateObject(ctx, info, wr, false, func(cur runtime.Object, exists bool) (runtime.Object, error) {
		return obj.DeepCopyObject(), nil
	})
	if err != nil {
		h.writeError(w, r, err, info.Name)
		return
	}
	addWarnings(w, warnings)
	code := http.StatusOK
	if created {
		code = http.StatusCreated
	}
	h.writeObject(w, r, code, out)
}

// computeFunc returns the desired object given the current one (exists is
// false when nothing is stored yet). managedFields must already be
// tracked when applied is true.
type computeFunc func(cur runtime.Object, exists bool) (runtime.Object, error)

// updateObject runs the update pipeline with optimistic concurrency:
// compute, keep server-owned metadata, prepare, validate, track
// managedFields, allocate, write. It creates the object when it does not
// exist and allowCreate is set (server-side apply).
func (h *Handler) updateObject(ctx context.Context, info RequestInfo, wr writeRequest, allowCreate bool,
	compute computeFunc) (runtime.Object, bool, error) {
	return h.updateObjectTracked(ctx, info, wr, allowCreate, false, compute)
}

func (h *Handler) updateObjectTracked(ctx context.Context, info RequestInfo, wr writeRequest, allowCreate, tracked bool,
	compute computeFunc) (runtime.Object, bool, error) {
	key := h.key(info.Namespace, info.Name)
	created := false
	for attempt := 0; ; attempt++ {
		out := h.res.New()
		var lastCandidate runtime.Object
		err := h.cfg.Store.GuaranteedUpdate(ctx, key, out, allowCreate, nil, func(cur runtime.Object) (runtime.Object, storage.WriteOptions, error) {
			curAcc, err := meta.Accessor(cur)
			if err != nil {
				return nil, storage.WriteOptions{}, err
			}
			exists := curAcc.GetResourceVersion() != ""
			if !exists && wr.sub != "" {
				return nil, storage.WriteOptions{}, apierrors.NewNotFound(h.gr, info.Name)
			}
			desired, err := compute(cur, exists)
			if err != nil {
				return nil, storage.WriteOptions{}, err
			}
			if err := h.checkNamespaceAndName(desired, info); err != nil {
				return nil, storage.WriteOptions{}, err
			}
			var opts storage.WriteOptions
			if !exists {
				created = true
				if err := h.prepareCreate(ctx, desired, wr, tracked); err != nil {
					return nil, opts, err
				}
				if h.res.Hooks != nil {
					if opts, err = h.res.Hooks.BeforeCreate(ctx, desired); err != nil {
						return nil, opts, err
					}
				}
			} else {
				if opts, err = h.prepareUpdate(ctx, desired, cur, wr, tracked); err != nil {
					return nil, opts, err
				}
			}
			lastCandidate = desired
			if wr.dryRun {
				return nil, opts, &errDryRun{obj: desired}
			}
			// Every update sets the TTL anew, as upstream's event
			// strategy does: an event whose count goes up lives on.
			opts.TTL = h.res.TTL
			return desired, opts, nil
		})
		var dry *errDryRun
		switch {
		case errors.As(err, &dry):
			return dry.obj, created, nil
		case err != nil:
			if err = h.reservationConflict(lastCandidate, err, attempt); err != nil {
				return nil, false, err
			}
			continue
		}
		if h.shouldDeleteAfterUpdate(out) {
			deleted := h.res.New()
			var release storage.WriteOptions
			if h.res.Hooks != nil {
				release = h.res.Hooks.BeforeDelete(ctx, out)
			}
			acc, _ := meta.Accessor(out)
			uid, rv := acc.GetUID(), acc.GetResourceVersion()
			err := h.cfg.Store.Delete(ctx, key, deleted, &storage.Preconditions{UID: &uid, ResourceVersion: &rv}, nil, release)
			if err == nil {
				return deleted, false, nil
			}
			if !storage.IsNotFound(err) && !storage.IsConflict(err) && !storage.IsInvalidPrecondition(err) {
				return nil, false, err
			}
		}
		return out, created, nil
	}
}

// prepareUpdate carries server-owned metadata over from cur, then
// prepares, validates and allocates.
func (h *Handler) prepareUpdate(ctx context.Context, obj, cur runtime.Object, wr writeRequest, tracked bool) (storage.WriteOptions, error) {
	var opts storage.WriteOptions
	acc, err := meta.Accessor(obj)
	if err != nil {
		return opts, err
	}
	curAcc, _ := meta.Accessor(cur)
	if rv := acc.GetResourceVersion(); rv != "" && rv != curAcc.GetResourceVersion() {
		return opts, storage.ErrConflict
	}
	if uid := acc.GetUID(); uid != "" && uid != curAcc.GetUID() {
		return opts, apierrors.NewConflict(h.gr, curAcc.GetName(), fmt.Errorf(
			"Precondition failed: UID in precondition: %v, UID in object meta: %v", uid, curAcc.GetUID()))
	}
	acc.SetResourceVersion(curAcc.GetResourceVersion())
	acc.SetUID(curAcc.GetUID())
	acc.SetCreationTimestamp(curAcc.GetCreationTimestamp())
	acc.SetDeletionTimestamp(curAcc.GetDeletionTimestamp())
	acc.SetDeletionGracePeriodSeconds(curAcc.GetDeletionGracePeriodSeconds())
	acc.SetGeneration(curAcc.GetGeneration())
	acc.SetSelfLink("")
	if curAcc.GetDeletionTimestamp() != nil && len(acc.GetFinalizers()) > len(curAcc.GetFinalizers()) {
		for _, f := range acc.GetFinalizers() {
			if !contains(curAcc.GetFinalizers(), f) {
				return opts, apierrors.NewInvalid(h.res.GroupVersionKind().GroupKind(), acc.GetName(), field.ErrorList{
					field.Forbidden(field.NewPath("metadata", "finalizers"),
						fmt.Sprintf("no new finalizers can be added if the object is being deleted, found new finalizers %q", f))})
			}
		}
	}
	kind := h.res.GroupVersionKind().GroupKind()
	_, isAction := h.res.Actions[wr.sub]
	switch {
	case isAction:
		// The action itself validated the change (e.g. pod.Bind).
	case wr.sub == "finalize":
		finalizeNamespace(obj, cur)
	case wr.sub == "status":
		h.res.StatusStrategy.PrepareForUpdate(ctx, obj, cur)
		if errs := h.res.StatusStrategy.ValidateUpdate(ctx, obj, cur); len(errs) > 0 {
			return opts, apierrors.NewInvalid(kind, acc.GetName(), errs)
		}
	case h.res.UpdateSubresources[wr.sub] != nil:
		s := h.res.UpdateSubresources[wr.sub]
		s.PrepareForUpdate(ctx, obj, cur)
		if errs := s.ValidateUpdate(ctx, obj, cur); len(errs) > 0 {
			return opts, apierrors.NewInvalid(kind, acc.GetName(), errs)
		}
	default:
		h.res.Strategy.PrepareForUpdate(ctx, obj, cur)
		if errs := h.res.Strategy.ValidateUpdate(ctx, obj, cur); len(errs) > 0 {
			return opts, apierrors.NewInvalid(kind, acc.GetName(), errs)
		}
	}
	if err := h.admit(ctx, registry.Update, wr.sub, obj, cur, wr.dryRun); err != nil {
		return opts, err
	}
	if fm := h.managers[wr.sub]; fm != nil && !tracked {
		updated, err := fm.Update(cur, obj, wr.manager)
		if err != nil {
			return opts, apierrors.NewInternalError(err)
		}
		copyInto(obj, updated)
	}
	if h.res.Hooks != nil && wr.sub == "" {
		return h.res.Hooks.BeforeUpdate(ctx, obj, cur)
	}
	return opts, nil
}

// shouldDeleteAfterUpdate is kube-apiserver's rule: an object being
// deleted whose last finalizer was removed, and that is not waiting for a
// graceful termination, is deleted by the update.
func (h *Handler) shouldDeleteAfterUpdate(obj runtime.Object) bool {
	acc, err := meta.Accessor(obj)
	if err != nil || acc.GetDeletionTimestamp() == nil || len(acc.GetFinalizers()) > 0 {
		return false
	}
	if h.res.Resource == "namespaces" && h.res.Group == "" {
		return namespaceFinalized(obj)
	}
	grace := acc.GetDeletionGracePeriodSeconds()
	return grace != nil && *grace == 0
}

// copyInto replaces *dst with *src for two objects of the same type.
func copyInto(dst, src runtime.Object) {
	if dst == src {
		return
	}
	if u, ok := src.(runtime.Unstructured); ok {
		_ = runtime.DefaultUnstructuredConverter.FromUnstructured(u.UnstructuredContent(), dst)
		return
	}
	reflect.ValueOf(dst).Elem().Set(reflect.ValueOf(src).Elem())
}

func nameOf(obj runtime.Object) string {
	if acc, err := meta.Accessor(obj); err == nil {
		return acc.GetName()
	}
	return ""
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

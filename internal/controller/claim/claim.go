package claim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// Claimer decides which objects a controller owns, as upstream's
// ControllerRefManager: objects controlled by the owner that still match
// the selector are kept, controlled objects that stop matching are
// released, and matching orphans are adopted.
type Claimer[T metav1.Object] struct {
	Owner    metav1.Object
	Kind     schema.GroupVersionKind
	Selector labels.Selector
	// Patch applies a strategic merge patch to the named object.
	Patch func(ctx context.Context, name string, data []byte) error
	// Recheck returns an error when the owner may no longer adopt (it was
	// deleted or replaced); it is called once before the first adoption.
	Recheck func(ctx context.Context) error
}

// Claim returns the objects of objs the owner controls after adoption and
// release. Failed adoptions are skipped and reported in the joined error.
func (c *Claimer[T]) Claim(ctx context.Context, objs []T) ([]T, error) {
	var (
		claimed  []T
		errs     []error
		checked  bool
		adoptErr error
	)
	for _, obj := range objs {
		matches := c.Selector.Matches(labels.Set(obj.GetLabels()))
		if ref := metav1.GetControllerOfNoCopy(obj); ref != nil {
			if ref.UID != c.Owner.GetUID() {
				continue
			}
			if matches {
				claimed = append(claimed, obj)
				continue
			}
			if c.Owner.GetDeletionTimestamp() != nil {
				continue
			}
			if err := c.release(ctx, obj); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		if !matches || c.Owner.GetDeletionTimestamp() != nil || obj.GetDeletionTimestamp() != nil {
			continue
		}
		if !checked {
			checked = true
			adoptErr = c.Recheck(ctx)
		}
		if adoptErr != nil {
			errs = append(errs, adoptErr)
			break
		}
		if err := c.adopt(ctx, obj); err != nil {
			if !apierrors.IsNotFound(err) {
				errs = append(errs, err)
			}
			continue
		}
		claimed = append(claimed, obj)
	}
	return claimed, errors.Join(errs...)
}

type ownerRefPatch struct {
	Metadata ownerRefPatchMeta `json:"metadata"`
}

type ownerRefPatchMeta struct {
	OwnerReferences []map[string]any `json:"ownerReferences"`
	UID             types.UID        `json:"uid"`
}

func (c *Claimer[T]) adopt(ctx context.Context, obj T) error {
	ref := metav1.NewControllerRef(c.Owner, c.Kind)
	data, err := json.Marshal(ownerRefPatch{Metadata: ownerRefPatchMeta{
		OwnerReferences: []map[string]any{{
			"apiVersion":         ref.APIVersion,
			"kind":               ref.Kind,
			"name":               ref.Name,
			"uid":                ref.UID,
			"controller":         true,
			"blockOwnerDeletion": true,
		}},
		UID: obj.GetUID(),
	}})
	if err != nil {
		return err
	}
	if err := c.Patch(ctx, obj.GetName(), data); err != nil {
		return fmt.Errorf("adopt %s: %w", obj.GetName(), err)
	}
	return nil
}

func (c *Claimer[T]) release(ctx context.Context, obj T) error {
	data, err := json.Marshal(ownerRefPatch{Metadata: ownerRefPatchMeta{
		OwnerReferences: []map[string]any{{"$patch": "delete", "uid": c.Owner.GetUID()}},
		UID:             obj.GetUID(),
	}})
	if err != nil {
		return err
	}
	err = c.Patch(ctx, obj.GetName(), data)
	if apierrors.IsNotFound(err) || apierrors.IsInvalid(err) {
		// Gone, or its owner reference is already gone: nothing to release.
		return nil
	}
	if err != nil {
		return fmt.Errorf("release %s: %w", obj.GetName(), err)
	}
	return nil
}

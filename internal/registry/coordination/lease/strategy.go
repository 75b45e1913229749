package lease

import (
	"context"

	coordinationv1 "k8s.io/api/coordination/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/svcnet/svcnet/internal/registry"
)

// Strategy is the create/update strategy of leases.
type Strategy struct{}

var _ registry.Strategy = Strategy{}

// Default does nothing: upstream has no lease defaults.
func (Strategy) Default(runtime.Object) {}

// PrepareForCreate drops the coordinated leader election fields
// (spec.strategy, spec.preferredHolder), which upstream serves only with
// the CoordinatedLeaderElection feature gate, off by default.
func (Strategy) PrepareForCreate(_ context.Context, obj runtime.Object) {
	dropDisabledFields(obj.(*coordinationv1.Lease), nil)
}

// PrepareForUpdate drops the coordinated leader election fields unless the
// stored lease already uses them.
func (Strategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	dropDisabledFields(obj.(*coordinationv1.Lease), old.(*coordinationv1.Lease))
}

// Validate validates a new lease.
func (Strategy) Validate(_ context.Context, obj runtime.Object) field.ErrorList {
	return ValidateLease(obj.(*coordinationv1.Lease))
}

// ValidateUpdate validates a lease update.
func (Strategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	return ValidateLeaseUpdate(obj.(*coordinationv1.Lease), old.(*coordinationv1.Lease))
}

func dropDisabledFields(l, old *coordinationv1.Lease) {
	if old != nil && (old.Spec.Strategy != nil || old.Spec.PreferredHolder != nil) {
		return
	}
	l.Spec.Strategy = nil
	l.Spec.PreferredHolder = nil
}

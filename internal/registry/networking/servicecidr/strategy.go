package servicecidr

import (
	"context"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/svcnet/svcnet/internal/registry"
)

// Strategy is the create/update strategy of ServiceCIDRs.
type Strategy struct{}

var (
	_ registry.Strategy       = Strategy{}
	_ registry.StatusStrategy = StatusStrategy{}
)

// Default does nothing: upstream has no ServiceCIDR defaults.
func (Strategy) Default(runtime.Object) {}

// PrepareForCreate clears status.
func (Strategy) PrepareForCreate(_ context.Context, obj runtime.Object) {
	obj.(*networkingv1.ServiceCIDR).Status = networkingv1.ServiceCIDRStatus{}
}

// PrepareForUpdate keeps status from old.
func (Strategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	obj.(*networkingv1.ServiceCIDR).Status = old.(*networkingv1.ServiceCIDR).Status
}

// Validate validates a new ServiceCIDR.
func (Strategy) Validate(_ context.Context, obj runtime.Object) field.ErrorList {
	return ValidateServiceCIDR(obj.(*networkingv1.ServiceCIDR))
}

// ValidateUpdate validates a ServiceCIDR update.
func (Strategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	return ValidateServiceCIDRUpdate(obj.(*networkingv1.ServiceCIDR), old.(*networkingv1.ServiceCIDR))
}

// StatusStrategy governs writes to servicecidrs/status.
type StatusStrategy struct{}

// PrepareForUpdate keeps spec from old.
func (StatusStrategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	obj.(*networkingv1.ServiceCIDR).Spec = old.(*networkingv1.ServiceCIDR).Spec
}

// ValidateUpdate validates a status write: metadata only, as upstream.
func (StatusStrategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	return ValidateServiceCIDRStatusUpdate(obj.(*networkingv1.ServiceCIDR), old.(*networkingv1.ServiceCIDR))
}

package ingress

import (
	"context"

	networkingv1 "k8s.io/api/networking/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/svcnet/svcnet/internal/registry"
)

// Strategy is the create/update strategy of ingresses.
type Strategy struct{}

var (
	_ registry.Strategy       = Strategy{}
	_ registry.StatusStrategy = StatusStrategy{}
)

// Default does nothing: networking.k8s.io/v1 has no ingress defaults.
func (Strategy) Default(runtime.Object) {}

// PrepareForCreate clears status and sets generation 1.
func (Strategy) PrepareForCreate(_ context.Context, obj runtime.Object) {
	ing := obj.(*networkingv1.Ingress)
	ing.Status = networkingv1.IngressStatus{}
	ing.Generation = 1
}

// PrepareForUpdate keeps status from old and bumps generation when the
// spec changed.
func (Strategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	ing, o := obj.(*networkingv1.Ingress), old.(*networkingv1.Ingress)
	ing.Status = o.Status
	if !apiequality.Semantic.DeepEqual(ing.Spec, o.Spec) {
		ing.Generation = o.Generation + 1
	}
}

// Validate validates a new ingress.
func (Strategy) Validate(_ context.Context, obj runtime.Object) field.ErrorList {
	return ValidateIngressCreate(obj.(*networkingv1.Ingress))
}

// ValidateUpdate validates an ingress update.
func (Strategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	return ValidateIngressUpdate(obj.(*networkingv1.Ingress), old.(*networkingv1.Ingress))
}

// StatusStrategy governs writes to ingresses/status.
type StatusStrategy struct{}

// PrepareForUpdate keeps spec from old.
func (StatusStrategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	obj.(*networkingv1.Ingress).Spec = old.(*networkingv1.Ingress).Spec
}

// ValidateUpdate validates a status write.
func (StatusStrategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	return ValidateIngressStatusUpdate(obj.(*networkingv1.Ingress), old.(*networkingv1.Ingress))
}

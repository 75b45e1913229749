package ingressclass

import (
	"context"

	networkingv1 "k8s.io/api/networking/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"

	"github.com/svcnet/svcnet/internal/registry"
)

// Strategy is the create/update strategy of ingress classes.
type Strategy struct{}

var _ registry.Strategy = Strategy{}

// Default gives parameters without a scope the Cluster scope.
func (Strategy) Default(obj runtime.Object) {
	c := obj.(*networkingv1.IngressClass)
	if c.Spec.Parameters != nil && c.Spec.Parameters.Scope == nil {
		c.Spec.Parameters.Scope = ptr.To(networkingv1.IngressClassParametersReferenceScopeCluster)
	}
}

// PrepareForCreate sets generation 1.
func (Strategy) PrepareForCreate(_ context.Context, obj runtime.Object) {
	obj.(*networkingv1.IngressClass).Generation = 1
}

// PrepareForUpdate bumps generation when the spec changed.
func (Strategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	c, o := obj.(*networkingv1.IngressClass), old.(*networkingv1.IngressClass)
	if !apiequality.Semantic.DeepEqual(c.Spec, o.Spec) {
		c.Generation = o.Generation + 1
	}
}

// Validate validates a new ingress class.
func (Strategy) Validate(_ context.Context, obj runtime.Object) field.ErrorList {
	return ValidateIngressClass(obj.(*networkingv1.IngressClass))
}

// ValidateUpdate validates an ingress class update.
func (Strategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	return ValidateIngressClassUpdate(obj.(*networkingv1.IngressClass), old.(*networkingv1.IngressClass))
}

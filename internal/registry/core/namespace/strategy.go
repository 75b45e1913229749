package namespace

import (
	"context"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/svcnet/svcnet/internal/registry"
)

// Strategy is the create/update strategy of namespaces.
type Strategy struct{}

var (
	_ registry.Strategy       = Strategy{}
	_ registry.StatusStrategy = StatusStrategy{}
	_ registry.StatusStrategy = FinalizeStrategy{}
)

// Default applies the namespace defaults.
func (Strategy) Default(obj runtime.Object) { Default(obj.(*corev1.Namespace)) }

// PrepareForCreate sets phase Active, adds the "kubernetes" spec finalizer
// when missing and sets the name label (the name may have been generated
// after defaulting).
func (Strategy) PrepareForCreate(_ context.Context, obj runtime.Object) {
	ns := obj.(*corev1.Namespace)
	ns.Status = corev1.NamespaceStatus{Phase: corev1.NamespaceActive}
	if !slices.Contains(ns.Spec.Finalizers, corev1.FinalizerKubernetes) {
		ns.Spec.Finalizers = append(ns.Spec.Finalizers, corev1.FinalizerKubernetes)
	}
	setNameLabel(ns)
}

// PrepareForUpdate keeps spec.finalizers (changed only through /finalize)
// and status from old.
func (Strategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	ns, o := obj.(*corev1.Namespace), old.(*corev1.Namespace)
	ns.Spec.Finalizers = o.Spec.Finalizers
	ns.Status = o.Status
	setNameLabel(ns)
}

// Validate validates a new namespace.
func (Strategy) Validate(_ context.Context, obj runtime.Object) field.ErrorList {
	return ValidateNamespace(obj.(*corev1.Namespace))
}

// ValidateUpdate validates a namespace update.
func (Strategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	return ValidateNamespaceUpdate(obj.(*corev1.Namespace), old.(*corev1.Namespace))
}

// StatusStrategy governs writes to namespaces/status.
type StatusStrategy struct{}

// PrepareForUpdate keeps spec from old.
func (StatusStrategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	obj.(*corev1.Namespace).Spec = old.(*corev1.Namespace).Spec
}

// ValidateUpdate validates a status write.
func (StatusStrategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	return ValidateNamespaceStatusUpdate(obj.(*corev1.Namespace), old.(*corev1.Namespace))
}

// FinalizeStrategy governs writes to namespaces/finalize, which may change
// only spec.finalizers.
type FinalizeStrategy struct{}

// PrepareForUpdate keeps everything but spec.finalizers and metadata
// from old.
func (FinalizeStrategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	ns, o := obj.(*corev1.Namespace), old.(*corev1.Namespace)
	finalizers := ns.Spec.Finalizers
	ns.Spec = *o.Spec.DeepCopy()
	ns.Spec.Finalizers = finalizers
	ns.Status = *o.Status.DeepCopy()
}

// ValidateUpdate validates a finalize write.
func (FinalizeStrategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	return ValidateNamespaceFinalizeUpdate(obj.(*corev1.Namespace), old.(*corev1.Namespace))
}

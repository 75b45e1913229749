package node

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/svcnet/svcnet/internal/registry"
)

// Strategy is the create/update strategy of nodes.
type Strategy struct{}

var (
	_ registry.Strategy       = Strategy{}
	_ registry.StatusStrategy = StatusStrategy{}
)

// Default applies the node defaults.
func (Strategy) Default(obj runtime.Object) { Default(obj.(*corev1.Node)) }

// PrepareForCreate keeps the status: a registering node agent reports its
// addresses and capacity in the create request.
func (Strategy) PrepareForCreate(context.Context, runtime.Object) {}

// PrepareForUpdate keeps the stored status.
func (Strategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	obj.(*corev1.Node).Status = old.(*corev1.Node).Status
}

// Validate validates a new node.
func (Strategy) Validate(_ context.Context, obj runtime.Object) field.ErrorList {
	return ValidateNode(obj.(*corev1.Node))
}

// ValidateUpdate validates a node update.
func (Strategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	n := obj.(*corev1.Node)
	return append(ValidateNode(n), ValidateNodeUpdate(n, old.(*corev1.Node))...)
}

// StatusStrategy governs writes to nodes/status (by node agents).
type StatusStrategy struct{}

// PrepareForUpdate keeps the stored spec.
func (StatusStrategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	obj.(*corev1.Node).Spec = old.(*corev1.Node).Spec
}

// ValidateUpdate validates a status write.
func (StatusStrategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	return ValidateNodeUpdate(obj.(*corev1.Node), old.(*corev1.Node))
}

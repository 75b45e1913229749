package event

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/svcnet/svcnet/internal/registry"
)

// Strategy is the create/update strategy of core/v1 events: no defaults,
// no status, lenient validation for compatibility with old clients.
type Strategy struct{}

var _ registry.Strategy = Strategy{}

// Default does nothing: upstream has no event defaults.
func (Strategy) Default(runtime.Object) {}

// PrepareForCreate does nothing.
func (Strategy) PrepareForCreate(context.Context, runtime.Object) {}

// PrepareForUpdate does nothing.
func (Strategy) PrepareForUpdate(context.Context, runtime.Object, runtime.Object) {}

// Validate validates an event created through core/v1.
func (Strategy) Validate(_ context.Context, obj runtime.Object) field.ErrorList {
	return ValidateEventCreate(obj.(*corev1.Event), CoreV1)
}

// ValidateUpdate validates an event updated through core/v1.
func (Strategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	return ValidateEventUpdate(obj.(*corev1.Event), old.(*corev1.Event), CoreV1)
}

package configmap

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/svcnet/svcnet/internal/registry"
)

// Strategy is the create/update strategy of configmaps. ConfigMaps have
// no defaults, no status and no generation.
type Strategy struct{}

var _ registry.Strategy = Strategy{}

// Default does nothing: upstream has no configmap defaults.
func (Strategy) Default(runtime.Object) {}

// PrepareForCreate does nothing.
func (Strategy) PrepareForCreate(context.Context, runtime.Object) {}

// PrepareForUpdate does nothing.
func (Strategy) PrepareForUpdate(context.Context, runtime.Object, runtime.Object) {}

// Validate validates a new configmap.
func (Strategy) Validate(_ context.Context, obj runtime.Object) field.ErrorList {
	return ValidateConfigMap(obj.(*corev1.ConfigMap))
}

// ValidateUpdate validates a configmap update.
func (Strategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	return ValidateConfigMapUpdate(obj.(*corev1.ConfigMap), old.(*corev1.ConfigMap))
}

package secret

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/svcnet/svcnet/internal/registry"
)

// Strategy is the create/update strategy of secrets.
type Strategy struct{}

var _ registry.Strategy = Strategy{}

// Default applies the secret defaults.
func (Strategy) Default(obj runtime.Object) { Default(obj.(*corev1.Secret)) }

// PrepareForCreate does nothing: secrets have no status.
func (Strategy) PrepareForCreate(context.Context, runtime.Object) {}

// PrepareForUpdate does nothing.
func (Strategy) PrepareForUpdate(context.Context, runtime.Object, runtime.Object) {}

// Validate validates a new secret.
func (Strategy) Validate(_ context.Context, obj runtime.Object) field.ErrorList {
	return ValidateSecret(obj.(*corev1.Secret))
}

// ValidateUpdate validates a secret update.
func (Strategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	return ValidateSecretUpdate(obj.(*corev1.Secret), old.(*corev1.Secret))
}

package serviceaccount

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/svcnet/svcnet/internal/registry"
)

// Strategy is the create/update strategy of service accounts.
type Strategy struct{}

var _ registry.Strategy = Strategy{}

// Default does nothing: upstream has no service account defaults.
func (Strategy) Default(runtime.Object) {}

// PrepareForCreate keeps only the name of each secret reference.
func (Strategy) PrepareForCreate(_ context.Context, obj runtime.Object) {
	cleanSecretReferences(obj.(*corev1.ServiceAccount))
}

// PrepareForUpdate keeps only the name of each secret reference.
func (Strategy) PrepareForUpdate(_ context.Context, obj, _ runtime.Object) {
	cleanSecretReferences(obj.(*corev1.ServiceAccount))
}

// Validate validates a new service account.
func (Strategy) Validate(_ context.Context, obj runtime.Object) field.ErrorList {
	return ValidateServiceAccount(obj.(*corev1.ServiceAccount))
}

// ValidateUpdate validates a service account update.
func (Strategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	return ValidateServiceAccountUpdate(obj.(*corev1.ServiceAccount), old.(*corev1.ServiceAccount))
}

func cleanSecretReferences(sa *corev1.ServiceAccount) {
	for i, s := range sa.Secrets {
		sa.Secrets[i] = corev1.ObjectReference{Name: s.Name}
	}
}

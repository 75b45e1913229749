package endpoints

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/svcnet/svcnet/internal/registry"
)

// Strategy is the create/update strategy of endpoints.
type Strategy struct{}

var _ registry.Strategy = Strategy{}

// Default applies the endpoints defaults.
func (Strategy) Default(obj runtime.Object) { Default(obj.(*corev1.Endpoints)) }

// PrepareForCreate repacks valid subsets into canonical form.
func (Strategy) PrepareForCreate(_ context.Context, obj runtime.Object) {
	canonicalize(obj.(*corev1.Endpoints))
}

// PrepareForUpdate repacks valid subsets into canonical form.
func (Strategy) PrepareForUpdate(_ context.Context, obj, _ runtime.Object) {
	canonicalize(obj.(*corev1.Endpoints))
}

// Validate validates new endpoints.
func (Strategy) Validate(_ context.Context, obj runtime.Object) field.ErrorList {
	return ValidateEndpoints(obj.(*corev1.Endpoints))
}

// ValidateUpdate validates an endpoints update.
func (Strategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	return ValidateEndpointsUpdate(obj.(*corev1.Endpoints), old.(*corev1.Endpoints))
}

// canonicalize repacks the subsets as kube-apiserver does after
// validation. Preparation runs before validation here, so invalid subsets
// are left alone for Validate to report with their original paths.
func canonicalize(e *corev1.Endpoints) {
	if len(validateSubsets(e.Subsets, field.NewPath("subsets"))) == 0 {
		e.Subsets = RepackSubsets(e.Subsets)
	}
}

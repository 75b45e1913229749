package ipaddress

import (
	"context"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/svcnet/svcnet/internal/registry"
)

// Strategy is the create/update strategy of IPAddresses.
type Strategy struct{}

var _ registry.Strategy = Strategy{}

// Default does nothing: upstream has no IPAddress defaults.
func (Strategy) Default(runtime.Object) {}

// PrepareForCreate does nothing: an IPAddress has no status.
func (Strategy) PrepareForCreate(context.Context, runtime.Object) {}

// PrepareForUpdate does nothing: the spec is immutable.
func (Strategy) PrepareForUpdate(context.Context, runtime.Object, runtime.Object) {}

// Validate validates a new IPAddress.
func (Strategy) Validate(_ context.Context, obj runtime.Object) field.ErrorList {
	return ValidateIPAddress(obj.(*networkingv1.IPAddress))
}

// ValidateUpdate validates an IPAddress update.
func (Strategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	return ValidateIPAddressUpdate(obj.(*networkingv1.IPAddress), old.(*networkingv1.IPAddress))
}

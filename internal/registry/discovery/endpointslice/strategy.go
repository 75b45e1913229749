package endpointslice

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/svcnet/svcnet/internal/registry"
)

// Strategy is the create/update strategy of endpoint slices.
type Strategy struct{}

var _ registry.Strategy = Strategy{}

// Default applies the endpoint slice defaults.
func (Strategy) Default(obj runtime.Object) { Default(obj.(*discoveryv1.EndpointSlice)) }

// PrepareForCreate sets generation 1 and drops deprecatedTopology, which
// the v1 API documents as ignored on writes.
func (Strategy) PrepareForCreate(_ context.Context, obj runtime.Object) {
	s := obj.(*discoveryv1.EndpointSlice)
	s.Generation = 1
	dropDeprecatedTopology(s, nil)
}

// PrepareForUpdate bumps generation when anything but metadata changed,
// or the labels changed (they tie a slice to its service).
func (Strategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	s, o := obj.(*discoveryv1.EndpointSlice), old.(*discoveryv1.EndpointSlice)
	dropDeprecatedTopology(s, o)
	a, b := *s, *o
	a.ObjectMeta, b.ObjectMeta = metav1.ObjectMeta{}, metav1.ObjectMeta{}
	if !apiequality.Semantic.DeepEqual(a, b) || !apiequality.Semantic.DeepEqual(s.Labels, o.Labels) {
		s.Generation = o.Generation + 1
	}
}

// Validate validates a new endpoint slice.
func (Strategy) Validate(_ context.Context, obj runtime.Object) field.ErrorList {
	return ValidateEndpointSlice(obj.(*discoveryv1.EndpointSlice))
}

// ValidateUpdate validates an endpoint slice update.
func (Strategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	return ValidateEndpointSliceUpdate(obj.(*discoveryv1.EndpointSlice), old.(*discoveryv1.EndpointSlice))
}

// dropDeprecatedTopology clears deprecatedTopology when the endpoints
// changed. A node name kept only in the old kubernetes.io/hostname
// topology label moves to nodeName, so partial updates keep it.
func dropDeprecatedTopology(s, old *discoveryv1.EndpointSlice) {
	if old != nil && apiequality.Semantic.DeepEqual(s.Endpoints, old.Endpoints) {
		return
	}
	prev := sets.New[string]()
	if old != nil {
		for _, ep := range old.Endpoints {
			if n, ok := ep.DeprecatedTopology[corev1.LabelHostname]; ok {
				prev.Insert(n)
			}
		}
	}
	for i := range s.Endpoints {
		ep := &s.Endpoints[i]
		if n, ok := ep.DeprecatedTopology[corev1.LabelHostname]; ok && ep.NodeName == nil && prev.Has(n) &&
			len(apimachineryvalidation.NameIsDNSSubdomain(n, false)) == 0 {
			ep.NodeName = &n
		}
		ep.DeprecatedTopology = nil
	}
}

package endpointslice

import (
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/svcnet/svcnet/internal/registry"
)

// Resource describes discovery.k8s.io/v1 endpointslices as upstream's
// discovery does.
func Resource() registry.Resource {
	return registry.Resource{
		Group:        "discovery.k8s.io",
		Version:      "v1",
		Resource:     "endpointslices",
		Kind:         "EndpointSlice",
		ListKind:     "EndpointSliceList",
		SingularName: "endpointslice",
		Namespaced:   true,
		Verbs:        []string{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"},
		New:          func() runtime.Object { return &discoveryv1.EndpointSlice{} },
		NewList:      func() runtime.Object { return &discoveryv1.EndpointSliceList{} },
		Strategy:     Strategy{},
		Fields:       Fields,
	}
}

// Fields returns the field-selector set of an endpoint slice: metadata
// only.
func Fields(obj runtime.Object) fields.Set {
	s := obj.(*discoveryv1.EndpointSlice)
	return fields.Set{"metadata.name": s.Name, "metadata.namespace": s.Namespace}
}

package endpoints

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/svcnet/svcnet/internal/registry"
)

// Resource describes core/v1 endpoints as upstream's discovery does.
func Resource() registry.Resource {
	return registry.Resource{
		Version:      "v1",
		Resource:     "endpoints",
		Kind:         "Endpoints",
		ListKind:     "EndpointsList",
		SingularName: "endpoints",
		Deprecation:  "v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice",
		ShortNames:   []string{"ep"},
		Namespaced:   true,
		Verbs:        []string{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"},
		New:          func() runtime.Object { return &corev1.Endpoints{} },
		NewList:      func() runtime.Object { return &corev1.EndpointsList{} },
		Strategy:     Strategy{},
		Fields:       Fields,
	}
}

// Fields returns the field-selector set of an endpoints object: metadata
// only.
func Fields(obj runtime.Object) fields.Set {
	e := obj.(*corev1.Endpoints)
	return fields.Set{"metadata.name": e.Name, "metadata.namespace": e.Namespace}
}

package ingress

import (
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/svcnet/svcnet/internal/registry"
)

// Resource describes networking.k8s.io/v1 ingresses as upstream's
// discovery does.
func Resource() registry.Resource {
	return registry.Resource{
		Group:          networkingv1.GroupName,
		Version:        "v1",
		Resource:       "ingresses",
		Kind:           "Ingress",
		ListKind:       "IngressList",
		SingularName:   "ingress",
		ShortNames:     []string{"ing"},
		Namespaced:     true,
		Verbs:          []string{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"},
		New:            func() runtime.Object { return &networkingv1.Ingress{} },
		NewList:        func() runtime.Object { return &networkingv1.IngressList{} },
		Strategy:       Strategy{},
		StatusStrategy: StatusStrategy{},
		Fields:         Fields,
	}
}

// Fields returns the field-selector set of an ingress: metadata only.
func Fields(obj runtime.Object) fields.Set {
	ing := obj.(*networkingv1.Ingress)
	return fields.Set{"metadata.name": ing.Name, "metadata.namespace": ing.Namespace}
}

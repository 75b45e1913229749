package ingressclass

import (
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/svcnet/svcnet/internal/registry"
)

// Resource describes networking.k8s.io/v1 ingressclasses as upstream's
// discovery does.
func Resource() registry.Resource {
	return registry.Resource{
		Group:        networkingv1.GroupName,
		Version:      "v1",
		Resource:     "ingressclasses",
		Kind:         "IngressClass",
		ListKind:     "IngressClassList",
		SingularName: "ingressclass",
		Verbs:        []string{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"},
		New:          func() runtime.Object { return &networkingv1.IngressClass{} },
		NewList:      func() runtime.Object { return &networkingv1.IngressClassList{} },
		Strategy:     Strategy{},
		Fields:       Fields,
	}
}

// Fields returns the field-selector set of an ingress class: its name.
func Fields(obj runtime.Object) fields.Set {
	return fields.Set{"metadata.name": obj.(*networkingv1.IngressClass).Name}
}

package ingress

import (
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/svcnet/svcnet/internal/registry"
)

// Resource describes networking.k8s.io/v1 ingresses as upstream's
// discovery does, defaulting the ingress class when cfg can list classes.
func Resource(cfg Config) registry.Resource {
	var hooks registry.Hooks
	if cfg.IngressClasses != nil {
		hooks = DefaultClassHooks{classes: cfg.IngressClasses}
	}
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
		Hooks:          hooks,
		Fields:         Fields,
	}
}

// Fields returns the field-selector set of an ingress: metadata only.
func Fields(obj runtime.Object) fields.Set {
	ing := obj.(*networkingv1.Ingress)
	return fields.Set{"metadata.name": ing.Name, "metadata.namespace": ing.Namespace}
}

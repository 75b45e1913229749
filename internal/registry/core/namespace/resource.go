package namespace

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/svcnet/svcnet/internal/registry"
)

// Resource describes core/v1 namespaces as upstream's discovery does
// (no deletecollection).
func Resource() registry.Resource {
	return registry.Resource{
		Version:        "v1",
		Resource:       "namespaces",
		Kind:           "Namespace",
		ListKind:       "NamespaceList",
		SingularName:   "namespace",
		ShortNames:     []string{"ns"},
		Verbs:          []string{"create", "delete", "get", "list", "patch", "update", "watch"},
		New:            func() runtime.Object { return &corev1.Namespace{} },
		NewList:        func() runtime.Object { return &corev1.NamespaceList{} },
		Strategy:       Strategy{},
		StatusStrategy: StatusStrategy{},
		Fields:         Fields,
	}
}

// Fields returns the field-selector set of a namespace: metadata.name,
// status.phase, and "name", which upstream keeps for compatibility.
func Fields(obj runtime.Object) fields.Set {
	ns := obj.(*corev1.Namespace)
	return fields.Set{
		"metadata.name": ns.Name,
		"name":          ns.Name,
		"status.phase":  string(ns.Status.Phase),
	}
}

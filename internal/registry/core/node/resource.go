package node

import (
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/svcnet/svcnet/internal/registry"
)

// Resource describes core/v1 nodes as upstream's discovery does.
func Resource() registry.Resource {
	return registry.Resource{
		Version:        "v1",
		Resource:       "nodes",
		Kind:           "Node",
		ListKind:       "NodeList",
		SingularName:   "node",
		ShortNames:     []string{"no"},
		Verbs:          []string{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"},
		New:            func() runtime.Object { return &corev1.Node{} },
		NewList:        func() runtime.Object { return &corev1.NodeList{} },
		Strategy:       Strategy{},
		StatusStrategy: StatusStrategy{},
		Fields:         Fields,
	}
}

// Fields returns the field-selector set of a node: metadata.name and
// spec.unschedulable ("true"/"false").
func Fields(obj runtime.Object) fields.Set {
	n := obj.(*corev1.Node)
	return fields.Set{
		"metadata.name":      n.Name,
		"spec.unschedulable": strconv.FormatBool(n.Spec.Unschedulable),
	}
}

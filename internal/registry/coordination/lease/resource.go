package lease

import (
	coordinationv1 "k8s.io/api/coordination/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/svcnet/svcnet/internal/registry"
)

// Resource describes coordination.k8s.io/v1 leases as upstream's discovery
// does.
func Resource() registry.Resource {
	return registry.Resource{
		Group:        "coordination.k8s.io",
		Version:      "v1",
		Resource:     "leases",
		Kind:         "Lease",
		ListKind:     "LeaseList",
		SingularName: "lease",
		Namespaced:   true,
		Verbs:        []string{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"},
		New:          func() runtime.Object { return &coordinationv1.Lease{} },
		NewList:      func() runtime.Object { return &coordinationv1.LeaseList{} },
		Strategy:     Strategy{},
		Fields:       Fields,
	}
}

// Fields returns the field-selector set of a lease: metadata only.
func Fields(obj runtime.Object) fields.Set {
	l := obj.(*coordinationv1.Lease)
	return fields.Set{"metadata.name": l.Name, "metadata.namespace": l.Namespace}
}

package servicecidr

import (
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/svcnet/svcnet/internal/registry"
)

// DefaultName is the ServiceCIDR that mirrors --service-cluster-ip-range.
const DefaultName = "kubernetes"

// Resource describes networking.k8s.io/v1 servicecidrs as upstream's
// discovery does.
func Resource() registry.Resource {
	return registry.Resource{
		Group:          networkingv1.GroupName,
		Version:        "v1",
		Resource:       "servicecidrs",
		Kind:           "ServiceCIDR",
		ListKind:       "ServiceCIDRList",
		SingularName:   "servicecidr",
		Verbs:          []string{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"},
		New:            func() runtime.Object { return &networkingv1.ServiceCIDR{} },
		NewList:        func() runtime.Object { return &networkingv1.ServiceCIDRList{} },
		Strategy:       Strategy{},
		StatusStrategy: StatusStrategy{},
		Fields:         Fields,
	}
}

// Fields returns the field-selector set of a ServiceCIDR: its name.
func Fields(obj runtime.Object) fields.Set {
	return fields.Set{"metadata.name": obj.(*networkingv1.ServiceCIDR).Name}
}

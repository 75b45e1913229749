package ipaddress

import (
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/svcnet/svcnet/internal/registry"
)

// Resource describes networking.k8s.io/v1 ipaddresses as upstream's
// discovery does.
func Resource() registry.Resource {
	return registry.Resource{
		Group:        networkingv1.GroupName,
		Version:      "v1",
		Resource:     "ipaddresses",
		Kind:         "IPAddress",
		ListKind:     "IPAddressList",
		SingularName: "ipaddress",
		ShortNames:   []string{"ip"},
		Verbs:        []string{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"},
		New:          func() runtime.Object { return &networkingv1.IPAddress{} },
		NewList:      func() runtime.Object { return &networkingv1.IPAddressList{} },
		Strategy:     Strategy{},
		Fields:       Fields,
	}
}

// Fields returns the field-selector set of an IPAddress: its name.
func Fields(obj runtime.Object) fields.Set {
	return fields.Set{"metadata.name": obj.(*networkingv1.IPAddress).Name}
}

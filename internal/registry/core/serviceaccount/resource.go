package serviceaccount

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/svcnet/svcnet/internal/registry"
)

// Resource describes core/v1 serviceaccounts as upstream's discovery does,
// with the token subresource when tokens.Tokens is set.
func Resource(tokens TokenConfig) registry.Resource {
	r := registry.Resource{
		Version:      "v1",
		Resource:     "serviceaccounts",
		Kind:         "ServiceAccount",
		ListKind:     "ServiceAccountList",
		SingularName: "serviceaccount",
		ShortNames:   []string{"sa"},
		Namespaced:   true,
		Verbs:        []string{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"},
		New:          func() runtime.Object { return &corev1.ServiceAccount{} },
		NewList:      func() runtime.Object { return &corev1.ServiceAccountList{} },
		Strategy:     Strategy{},
		Fields:       Fields,
	}
	if tokens.Tokens != nil {
		r.Creators = map[string]registry.Creator{"token": tokenCreator(tokens)}
	}
	return r
}

// Fields returns the field-selector set of a service account: metadata only.
func Fields(obj runtime.Object) fields.Set {
	sa := obj.(*corev1.ServiceAccount)
	return fields.Set{"metadata.name": sa.Name, "metadata.namespace": sa.Namespace}
}

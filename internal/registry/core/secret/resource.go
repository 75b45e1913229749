package secret

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/svcnet/svcnet/internal/registry"
)

// Resource describes core/v1 secrets as upstream's discovery does.
func Resource() registry.Resource {
	return registry.Resource{
		Version:      "v1",
		Resource:     "secrets",
		Kind:         "Secret",
		ListKind:     "SecretList",
		SingularName: "secret",
		Namespaced:   true,
		Verbs:        []string{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"},
		New:          func() runtime.Object { return &corev1.Secret{} },
		NewList:      func() runtime.Object { return &corev1.SecretList{} },
		Strategy:     Strategy{},
		Fields:       Fields,
	}
}

// Fields returns the field-selector set of a secret: metadata and type.
func Fields(obj runtime.Object) fields.Set {
	s := obj.(*corev1.Secret)
	return fields.Set{"metadata.name": s.Name, "metadata.namespace": s.Namespace, "type": string(s.Type)}
}

package configmap

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/svcnet/svcnet/internal/registry"
)

// Resource describes core/v1 configmaps as upstream's discovery does.
func Resource() registry.Resource {
	return registry.Resource{
		Version:      "v1",
		Resource:     "configmaps",
		Kind:         "ConfigMap",
		ListKind:     "ConfigMapList",
		SingularName: "configmap",
		ShortNames:   []string{"cm"},
		Namespaced:   true,
		Verbs:        []string{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"},
		New:          func() runtime.Object { return &corev1.ConfigMap{} },
		NewList:      func() runtime.Object { return &corev1.ConfigMapList{} },
		Strategy:     Strategy{},
		Fields:       Fields,
	}
}

// Fields returns the field-selector set of a configmap: metadata only.
func Fields(obj runtime.Object) fields.Set {
	c := obj.(*corev1.ConfigMap)
	return fields.Set{"metadata.name": c.Name, "metadata.namespace": c.Namespace}
}

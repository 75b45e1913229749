package service

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/svcnet/svcnet/internal/registry"
)

// Resource describes core/v1 services as upstream's discovery does, with
// the allocation hooks of cfg. It fails when cfg has no usable allocators.
func Resource(cfg Config) (registry.Resource, error) {
	hooks, err := NewHooks(cfg)
	if err != nil {
		return registry.Resource{}, fmt.Errorf("services: %w", err)
	}
	return registry.Resource{
		Version:        "v1",
		Resource:       "services",
		Kind:           "Service",
		ListKind:       "ServiceList",
		SingularName:   "service",
		ShortNames:     []string{"svc"},
		Categories:     []string{"all"},
		Namespaced:     true,
		Verbs:          []string{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"},
		New:            func() runtime.Object { return &corev1.Service{} },
		NewList:        func() runtime.Object { return &corev1.ServiceList{} },
		Strategy:       Strategy{},
		StatusStrategy: StatusStrategy{},
		Hooks:          hooks,
		Fields:         Fields,
	}, nil
}

// Fields returns the field-selector set of a service (upstream supports
// metadata.name, metadata.namespace, spec.clusterIP and spec.type).
func Fields(obj runtime.Object) fields.Set {
	s := obj.(*corev1.Service)
	return fields.Set{
		"metadata.name":      s.Name,
		"metadata.namespace": s.Namespace,
		"spec.clusterIP":     s.Spec.ClusterIP,
		"spec.type":          string(s.Spec.Type),
	}
}

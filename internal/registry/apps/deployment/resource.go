package deployment

import (
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/svcnet/svcnet/internal/registry"
)

// Resource describes apps/v1 deployments as upstream's discovery does.
func Resource() registry.Resource {
	return registry.Resource{
		Group:          "apps",
		Version:        "v1",
		Resource:       "deployments",
		Kind:           "Deployment",
		ListKind:       "DeploymentList",
		SingularName:   "deployment",
		ShortNames:     []string{"deploy"},
		Categories:     []string{"all"},
		Namespaced:     true,
		Verbs:          []string{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"},
		New:            func() runtime.Object { return &appsv1.Deployment{} },
		NewList:        func() runtime.Object { return &appsv1.DeploymentList{} },
		Strategy:       Strategy{},
		StatusStrategy: StatusStrategy{},
		Scale: &registry.ScaleAccessor{
			Get: func(obj runtime.Object) (int32, int32, string) {
				d := obj.(*appsv1.Deployment)
				return replicas(d.Spec.Replicas), d.Status.Replicas, selectorString(d.Spec.Selector)
			},
			Set: func(obj runtime.Object, n int32) { obj.(*appsv1.Deployment).Spec.Replicas = &n },
		},
		Fields: func(obj runtime.Object) fields.Set {
			d := obj.(*appsv1.Deployment)
			return fields.Set{"metadata.name": d.Name, "metadata.namespace": d.Namespace}
		},
	}
}

func replicas(r *int32) int32 {
	if r == nil {
		return 0
	}
	return *r
}

// selectorString renders a label selector as /scale reports it; an
// invalid selector renders as "".
func selectorString(sel *metav1.LabelSelector) string {
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return ""
	}
	return s.String()
}

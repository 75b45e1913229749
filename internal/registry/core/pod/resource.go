package pod

import (
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/svcnet/svcnet/internal/registry"
)

// Resource describes core/v1 pods as upstream's discovery does.
func Resource(cfg Config) registry.Resource {
	return registry.Resource{
		Version:        "v1",
		Resource:       "pods",
		Kind:           "Pod",
		ListKind:       "PodList",
		SingularName:   "pod",
		ShortNames:     []string{"po"},
		Categories:     []string{"all"},
		Namespaced:     true,
		Verbs:          []string{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"},
		New:            func() runtime.Object { return &corev1.Pod{} },
		NewList:        func() runtime.Object { return &corev1.PodList{} },
		Strategy:       Strategy{cfg: cfg},
		StatusStrategy: StatusStrategy{},
		Fields:         Fields,
		Actions: map[string]registry.Action{
			"binding": {
				New: func() runtime.Object { return &corev1.Binding{} },
				Apply: func(cur, req runtime.Object) error {
					return Bind(cur.(*corev1.Pod), req.(*corev1.Binding))
				},
			},
		},
	}
}

// Fields returns the field-selector set of a pod.
func Fields(obj runtime.Object) fields.Set {
	p := obj.(*corev1.Pod)
	podIP := ""
	ips := make([]string, 0, len(p.Status.PodIPs))
	for _, ip := range p.Status.PodIPs {
		ips = append(ips, ip.IP)
	}
	if len(ips) > 0 {
		podIP = ips[0]
	}
	return fields.Set{
		"metadata.name":            p.Name,
		"metadata.namespace":       p.Namespace,
		"spec.nodeName":            p.Spec.NodeName,
		"spec.restartPolicy":       string(p.Spec.RestartPolicy),
		"spec.schedulerName":       p.Spec.SchedulerName,
		"spec.serviceAccountName":  p.Spec.ServiceAccountName,
		"spec.hostNetwork":         strconv.FormatBool(p.Spec.HostNetwork),
		"status.phase":             string(p.Status.Phase),
		"status.podIP":             podIP,
		"status.podIPs":            strings.Join(ips, ","),
		"status.nominatedNodeName": p.Status.NominatedNodeName,
	}
}

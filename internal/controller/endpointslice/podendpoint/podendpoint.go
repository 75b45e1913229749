package podendpoint

import (
	"fmt"
	"reflect"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
)

// IsReady reports whether the Pod's Ready condition is True.
func IsReady(pod *corev1.Pod) bool {
	for i := range pod.Status.Conditions {
		if pod.Status.Conditions[i].Type == corev1.PodReady {
			return pod.Status.Conditions[i].Status == corev1.ConditionTrue
		}
	}
	return false
}

// ReadyTransitionTime returns the last transition time of the Pod's Ready
// condition, or the zero time when there is none.
func ReadyTransitionTime(pod *corev1.Pod) time.Time {
	for i := range pod.Status.Conditions {
		if pod.Status.Conditions[i].Type == corev1.PodReady {
			return pod.Status.Conditions[i].LastTransitionTime.Time
		}
	}
	return time.Time{}
}

// IsTerminal reports whether the Pod has Succeeded or Failed: its containers
// will never run again.
func IsTerminal(pod *corev1.Pod) bool {
	return pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed
}

// ShouldBeInEndpoints reports whether the Pod is published at all: it is
// not terminal, it has an IP, and it is not terminating unless
// includeTerminating is set.
func ShouldBeInEndpoints(pod *corev1.Pod, includeTerminating bool) bool {
	if IsTerminal(pod) {
		return false
	}
	if pod.Status.PodIP == "" && len(pod.Status.PodIPs) == 0 {
		return false
	}
	if !includeTerminating && pod.DeletionTimestamp != nil {
		return false
	}
	return true
}

// ShouldSetHostname reports whether the endpoint of the Pod carries the
// Pod's hostname: the Pod sets spec.hostname and its spec.subdomain names
// the Service (in the same namespace).
func ShouldSetHostname(pod *corev1.Pod, svc *corev1.Service) bool {
	return pod.Spec.Hostname != "" && pod.Spec.Subdomain == svc.Name && pod.Namespace == svc.Namespace
}

// FindPort resolves a Service port's targetPort for one Pod. A number is
// used as is; a name is looked up among the container ports (and those of
// restartable init containers) with the same protocol.
func FindPort(pod *corev1.Pod, svcPort *corev1.ServicePort) (int32, error) {
	target := svcPort.TargetPort
	if target.Type != intstr.String {
		if target.IntVal == 0 {
			return svcPort.Port, nil
		}
		return target.IntVal, nil
	}
	name := target.StrVal
	for _, c := range pod.Spec.Containers {
		for _, p := range c.Ports {
			if p.Name == name && p.Protocol == svcPort.Protocol {
				return p.ContainerPort, nil
			}
		}
	}
	for _, c := range pod.Spec.InitContainers {
		if c.RestartPolicy == nil || *c.RestartPolicy != corev1.ContainerRestartPolicyAlways {
			continue
		}
		for _, p := range c.Ports {
			if p.Name == name && p.Protocol == svcPort.Protocol {
				return p.ContainerPort, nil
			}
		}
	}
	return 0, fmt.Errorf("pod %s/%s has no port named %q", pod.Namespace, pod.Name, name)
}

// FromObject returns the Pod in an informer event object, unwrapping
// deletion tombstones; nil when obj holds no Pod.
func FromObject(obj any) *corev1.Pod {
	switch o := obj.(type) {
	case *corev1.Pod:
		return o
	case cache.DeletedFinalStateUnknown:
		p, _ := o.Obj.(*corev1.Pod)
		return p
	}
	return nil
}

// ServicesSelecting returns the keys ("namespace/name") of the Services in
// the namespace whose selector matches the labels. A nil selector selects
// nothing.
func ServicesSelecting(lister corelisters.ServiceLister, namespace string, set labels.Set) ([]string, error) {
	svcs, err := lister.Services(namespace).List(labels.Everything())
	if err != nil {
		return nil, fmt.Errorf("list services: %w", err)
	}
	var keys []string
	for _, svc := range svcs {
		if svc.Spec.Selector == nil {
			continue
		}
		if labels.SelectorFromValidatedSet(svc.Spec.Selector).Matches(set) {
			keys = append(keys, svc.Namespace+"/"+svc.Name)
		}
	}
	return keys, nil
}

// ServicesForUpdate returns the keys of the Services a Pod update concerns:
// none when nothing that endpoints show changed, the Services matching the
// old or the new labels otherwise.
func ServicesForUpdate(lister corelisters.ServiceLister, oldPod, newPod *corev1.Pod) ([]string, error) {
	if oldPod.ResourceVersion != "" && oldPod.ResourceVersion == newPod.ResourceVersion {
		return nil, nil
	}
	labelsChanged := !reflect.DeepEqual(oldPod.Labels, newPod.Labels) ||
		oldPod.Spec.Hostname != newPod.Spec.Hostname || oldPod.Spec.Subdomain != newPod.Spec.Subdomain
	if !labelsChanged && !endpointsChanged(oldPod, newPod) {
		return nil, nil
	}
	keys, err := ServicesSelecting(lister, newPod.Namespace, newPod.Labels)
	if err != nil || !labelsChanged {
		return keys, err
	}
	old, err := ServicesSelecting(lister, oldPod.Namespace, oldPod.Labels)
	if err != nil {
		return nil, err
	}
	seen := make(map[string]bool, len(keys))
	for _, k := range keys {
		seen[k] = true
	}
	for _, k := range old {
		if !seen[k] {
			keys = append(keys, k)
		}
	}
	return keys, nil
}

// endpointsChanged reports whether anything an endpoint is built from
// changed between two versions of a Pod.
func endpointsChanged(oldPod, newPod *corev1.Pod) bool {
	if (oldPod.DeletionTimestamp == nil) != (newPod.DeletionTimestamp == nil) {
		return true
	}
	if IsReady(oldPod) != IsReady(newPod) || IsTerminal(oldPod) != IsTerminal(newPod) {
		return true
	}
	if oldPod.Spec.NodeName != newPod.Spec.NodeName || oldPod.Status.PodIP != newPod.Status.PodIP {
		return true
	}
	if len(oldPod.Status.PodIPs) != len(newPod.Status.PodIPs) {
		return true
	}
	for i := range oldPod.Status.PodIPs {
		if oldPod.Status.PodIPs[i].IP != newPod.Status.PodIPs[i].IP {
			return true
		}
	}
	return !reflect.DeepEqual(oldPod.Spec.Containers, newPod.Spec.Containers)
}

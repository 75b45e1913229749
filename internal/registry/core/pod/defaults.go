package pod

import (
	corev1 "k8s.io/api/core/v1"

	"github.com/svcnet/svcnet/internal/registry/core/podtemplate"
)

// Defaults applied on create by kube-apiserver's admission plugins.
const (
	// defaultServiceAccount is what the ServiceAccount admission plugin
	// sets when a pod names none.
	defaultServiceAccount = "default"
	// defaultTolerationSeconds is the DefaultTolerationSeconds admission
	// plugin's default for the not-ready and unreachable taints.
	defaultTolerationSeconds = int64(300)
	// Priorities of the two built-in priority classes; any other pod
	// without a known class gets 0.
	systemClusterCriticalPriority = int32(2000000000)
	systemNodeCriticalPriority    = int32(2000001000)
)

// Default applies upstream's defaults to a pod: the PodSpec defaults shared
// with templates plus the pod-only ones (requests from limits, service
// links, host ports under hostNetwork). It is idempotent.
func Default(p *corev1.Pod) {
	podtemplate.DefaultPodSpec(&p.Spec)
	requestsFromLimits(p.Spec.Containers)
	requestsFromLimits(p.Spec.InitContainers)
	if p.Spec.EnableServiceLinks == nil {
		enable := corev1.DefaultEnableServiceLinks
		p.Spec.EnableServiceLinks = &enable
	}
	if p.Spec.HostNetwork {
		hostNetworkPorts(p.Spec.Containers)
		hostNetworkPorts(p.Spec.InitContainers)
	}
}

// requestsFromLimits copies a container's limits into its requests where
// no request was given.
func requestsFromLimits(containers []corev1.Container) {
	for i := range containers {
		r := &containers[i].Resources
		if r.Limits == nil {
			continue
		}
		if r.Requests == nil {
			r.Requests = corev1.ResourceList{}
		}
		for name, q := range r.Limits {
			if _, ok := r.Requests[name]; !ok {
				r.Requests[name] = q.DeepCopy()
			}
		}
	}
}

func hostNetworkPorts(containers []corev1.Container) {
	for i := range containers {
		for j := range containers[i].Ports {
			if containers[i].Ports[j].HostPort == 0 {
				containers[i].Ports[j].HostPort = containers[i].Ports[j].ContainerPort
			}
		}
	}
}

// admit applies, on create, what kube-apiserver's admission plugins add:
// the default service account, the not-ready/unreachable tolerations and
// the priority.
func admit(p *corev1.Pod) {
	if p.Spec.ServiceAccountName == "" && !isMirror(p) {
		p.Spec.ServiceAccountName = defaultServiceAccount
		p.Spec.DeprecatedServiceAccount = defaultServiceAccount
	}
	for _, key := range []string{corev1.TaintNodeNotReady, corev1.TaintNodeUnreachable} {
		if !toleratesNoExecute(p.Spec.Tolerations, key) {
			seconds := defaultTolerationSeconds
			p.Spec.Tolerations = append(p.Spec.Tolerations, corev1.Toleration{
				Key:               key,
				Operator:          corev1.TolerationOpExists,
				Effect:            corev1.TaintEffectNoExecute,
				TolerationSeconds: &seconds,
			})
		}
	}
	if p.Spec.Priority == nil {
		var prio int32
		switch p.Spec.PriorityClassName {
		case "system-node-critical":
			prio = systemNodeCriticalPriority
		case "system-cluster-critical":
			prio = systemClusterCriticalPriority
		}
		p.Spec.Priority = &prio
	}
	if p.Spec.PreemptionPolicy == nil {
		policy := corev1.PreemptLowerPriority
		p.Spec.PreemptionPolicy = &policy
	}
}

// toleratesNoExecute reports whether some toleration already covers the
// NoExecute taint with the given key.
func toleratesNoExecute(tolerations []corev1.Toleration, key string) bool {
	for _, t := range tolerations {
		if t.Effect != "" && t.Effect != corev1.TaintEffectNoExecute {
			continue
		}
		if t.Key == key || (t.Key == "" && t.Operator == corev1.TolerationOpExists) {
			return true
		}
	}
	return false
}

func isMirror(p *corev1.Pod) bool {
	_, ok := p.Annotations[corev1.MirrorPodAnnotationKey]
	return ok
}

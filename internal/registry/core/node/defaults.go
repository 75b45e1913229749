package node

import corev1 "k8s.io/api/core/v1"

// Default applies what upstream's defaulting and v1 conversion do to a
// node: spec.podCIDRs wins over spec.podCIDR, which then mirrors its first
// entry, and a missing status.allocatable is a copy of status.capacity.
func Default(n *corev1.Node) {
	if len(n.Spec.PodCIDRs) == 0 && n.Spec.PodCIDR != "" {
		n.Spec.PodCIDRs = []string{n.Spec.PodCIDR}
	}
	if len(n.Spec.PodCIDRs) > 0 {
		n.Spec.PodCIDR = n.Spec.PodCIDRs[0]
	}
	if n.Status.Allocatable == nil && n.Status.Capacity != nil {
		n.Status.Allocatable = n.Status.Capacity.DeepCopy()
	}
}

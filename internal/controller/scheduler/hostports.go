package scheduler

import (
	corev1 "k8s.io/api/core/v1"
)

// reasonHostPorts is upstream's NodePorts filter message.
const reasonHostPorts = "node(s) didn't have free ports for the requested pod ports"

// wildcardIP is what an empty hostIP means: every address of the node.
const wildcardIP = "0.0.0.0"

// hostPort is one hostPort a pod takes on its node.
type hostPort struct {
	ip       string
	protocol corev1.Protocol
	port     int32
}

// hostPorts lists the hostPorts of pod's containers (init containers
// included, as upstream: a sidecar keeps its port), with upstream's
// defaults: an empty hostIP is 0.0.0.0, an empty protocol TCP.
func hostPorts(pod *corev1.Pod) []hostPort {
	var out []hostPort
	add := func(cs []corev1.Container) {
		for _, c := range cs {
			for _, p := range c.Ports {
				if p.HostPort <= 0 {
					continue
				}
				hp := hostPort{ip: p.HostIP, protocol: p.Protocol, port: p.HostPort}
				if hp.ip == "" || hp.ip == "::" {
					hp.ip = wildcardIP
				}
				if hp.protocol == "" {
					hp.protocol = corev1.ProtocolTCP
				}
				out = append(out, hp)
			}
		}
	}
	add(pod.Spec.InitContainers)
	add(pod.Spec.Containers)
	return out
}

// conflicts reports whether a and b cannot be on one node: same port
// and protocol, and the same hostIP or either one the wildcard.
func (a hostPort) conflicts(b hostPort) bool {
	return a.port == b.port && a.protocol == b.protocol &&
		(a.ip == b.ip || a.ip == wildcardIP || b.ip == wildcardIP)
}

// portsFree reports whether none of want conflicts with used.
func portsFree(want, used []hostPort) bool {
	for _, w := range want {
		for _, u := range used {
			if w.conflicts(u) {
				return false
			}
		}
	}
	return true
}

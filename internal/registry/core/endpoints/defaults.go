package endpoints

import corev1 "k8s.io/api/core/v1"

// Default sets an empty port protocol to TCP.
func Default(e *corev1.Endpoints) {
	for i := range e.Subsets {
		for j := range e.Subsets[i].Ports {
			if p := &e.Subsets[i].Ports[j]; p.Protocol == "" {
				p.Protocol = corev1.ProtocolTCP
			}
		}
	}
}

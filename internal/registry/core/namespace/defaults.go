package namespace

import corev1 "k8s.io/api/core/v1"

// Default sets the kubernetes.io/metadata.name label to the name (when the
// name is known) and an empty phase to Active.
func Default(ns *corev1.Namespace) {
	setNameLabel(ns)
	if ns.Status.Phase == "" {
		ns.Status.Phase = corev1.NamespaceActive
	}
}

func setNameLabel(ns *corev1.Namespace) {
	if ns.Name == "" {
		return
	}
	if ns.Labels == nil {
		ns.Labels = map[string]string{}
	}
	ns.Labels[corev1.LabelMetadataName] = ns.Name
}

package rest

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// Namespaces are deleted in two steps, as in Kubernetes: deletion marks
// the namespace Terminating; the namespace controller removes its content
// and then its spec.finalizers through the finalize subresource, after
// which the namespace itself goes.

func namespaceHasSpecFinalizers(obj runtime.Object) bool {
	ns, ok := obj.(*corev1.Namespace)
	return ok && len(ns.Spec.Finalizers) > 0
}

func setNamespaceTerminating(obj runtime.Object) {
	if ns, ok := obj.(*corev1.Namespace); ok {
		ns.Status.Phase = corev1.NamespaceTerminating
	}
}

// namespaceFinalized reports a namespace being deleted with nothing left
// to wait for.
func namespaceFinalized(obj runtime.Object) bool {
	ns, ok := obj.(*corev1.Namespace)
	return ok && ns.DeletionTimestamp != nil && len(ns.Spec.Finalizers) == 0 && len(ns.Finalizers) == 0
}

// finalizeNamespace keeps everything of cur but the spec.finalizers of obj
// (the namespaces/finalize subresource).
func finalizeNamespace(obj, cur runtime.Object) {
	ns, ok1 := obj.(*corev1.Namespace)
	old, ok2 := cur.(*corev1.Namespace)
	if !ok1 || !ok2 {
		return
	}
	finalizers := ns.Spec.Finalizers
	meta := ns.ObjectMeta
	*ns = *old.DeepCopy()
	ns.ObjectMeta = meta
	ns.Spec.Finalizers = finalizers
}

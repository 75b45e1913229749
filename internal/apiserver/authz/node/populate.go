package node

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
)

// podHandler keeps g's pods in step with a pod informer.
func podHandler(g *graph) cache.ResourceEventHandler {
	set := func(obj any) {
		if pod, ok := obj.(*corev1.Pod); ok {
			// Pods not bound yet reference nothing a node may read; a
			// pod re-created under its name on another node moves.
			g.setPod(podKey(pod), pod.UID, pod.Spec.NodeName, podRefs(pod))
		}
	}
	return cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { set(obj) },
		UpdateFunc: func(_, obj any) { set(obj) },
		DeleteFunc: func(obj any) {
			if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = t.Obj
			}
			if pod, ok := obj.(*corev1.Pod); ok {
				g.deletePod(podKey(pod), pod.UID)
			}
		},
	}
}

// pvHandler keeps g's PersistentVolumes in step with an informer.
func pvHandler(g *graph) cache.ResourceEventHandler {
	set := func(obj any) {
		if pv, ok := obj.(*corev1.PersistentVolume); ok {
			claim, secrets := pvRefs(pv)
			g.setPV(pv.Name, claim, secrets)
		}
	}
	return cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { set(obj) },
		UpdateFunc: func(_, obj any) { set(obj) },
		DeleteFunc: func(obj any) {
			if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = t.Obj
			}
			if pv, ok := obj.(*corev1.PersistentVolume); ok {
				g.deletePV(pv.Name)
			}
		},
	}
}

func podKey(pod *corev1.Pod) types.NamespacedName {
	return types.NamespacedName{Namespace: pod.Namespace, Name: pod.Name}
}

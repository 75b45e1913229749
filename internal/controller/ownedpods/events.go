package ownedpods

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"

	"github.com/svcnet/svcnet/internal/controller/expectations"
	"github.com/svcnet/svcnet/internal/controller/keyqueue"
)

// Events turns pod events into work for the controller of owners of type
// T: the owner named by a pod's controller reference is queued, its
// expected creations and deletions observed; owners that could adopt an
// orphan are queued too.
type Events[T metav1.Object] struct {
	Queue        *keyqueue.Queue
	Expectations *expectations.Expectations
	// Resolve returns the owner a controller reference names, if it
	// exists (ok false for nil, another kind or a stale UID).
	Resolve func(namespace string, ref *metav1.OwnerReference) (owner T, ok bool)
	// EnqueueMatching queues the owners whose selector matches an orphan.
	EnqueueMatching func(pod *corev1.Pod)
	// MinReadySeconds is an owner's: a pod that became ready is looked at
	// again once it becomes available.
	MinReadySeconds func(T) int32
}

// Handler returns the informer event handler.
func (e *Events[T]) Handler() cache.ResourceEventHandlerFuncs {
	return cache.ResourceEventHandlerFuncs{AddFunc: e.add, UpdateFunc: e.update, DeleteFunc: e.delete}
}

func (e *Events[T]) add(obj any) {
	pod := obj.(*corev1.Pod)
	if pod.DeletionTimestamp != nil {
		// Seen for the first time already terminating (a restart): no
		// creation to observe.
		e.delete(pod)
		return
	}
	if ref := metav1.GetControllerOf(pod); ref != nil {
		owner, ok := e.Resolve(pod.Namespace, ref)
		if !ok {
			return
		}
		key, _ := cache.MetaNamespaceKeyFunc(owner)
		e.Expectations.CreationObserved(key)
		e.Queue.Add(key)
		return
	}
	e.EnqueueMatching(pod)
}

func (e *Events[T]) update(oldObj, newObj any) {
	old, cur := oldObj.(*corev1.Pod), newObj.(*corev1.Pod)
	// Periodic resyncs (equal resourceVersions) are not skipped: a sync
	// with nothing to do costs only a cache read.
	labelsChanged := !labels.Equals(old.Labels, cur.Labels)
	if cur.DeletionTimestamp != nil {
		// A graceful deletion began: count the pod gone now rather than
		// when its agent has finished it.
		e.delete(cur)
		if labelsChanged {
			e.delete(old)
		}
		return
	}
	oldRef, curRef := metav1.GetControllerOf(old), metav1.GetControllerOf(cur)
	refChanged := (oldRef == nil) != (curRef == nil) || (oldRef != nil && curRef != nil && oldRef.UID != curRef.UID)
	if refChanged && oldRef != nil {
		if owner, ok := e.Resolve(old.Namespace, oldRef); ok {
			e.Queue.Enqueue(owner)
		}
	}
	if curRef != nil {
		owner, ok := e.Resolve(cur.Namespace, curRef)
		if !ok {
			return
		}
		e.Queue.Enqueue(owner)
		// A pod that just became ready becomes available after
		// minReadySeconds: look again then (a second later, against
		// rounding).
		if mrs := e.MinReadySeconds(owner); mrs > 0 && !IsReady(old) && IsReady(cur) {
			key, _ := cache.MetaNamespaceKeyFunc(owner)
			e.Queue.AddAfter(key, time.Duration(mrs)*time.Second+time.Second)
		}
		return
	}
	if labelsChanged || refChanged {
		e.EnqueueMatching(cur)
	}
}

func (e *Events[T]) delete(obj any) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		tomb, ok := obj.(cache.DeletedFinalStateUnknown)
		if !ok {
			return
		}
		if pod, ok = tomb.Obj.(*corev1.Pod); !ok {
			return
		}
	}
	owner, ok := e.Resolve(pod.Namespace, metav1.GetControllerOf(pod))
	if !ok {
		return
	}
	key, _ := cache.MetaNamespaceKeyFunc(owner)
	podKey, _ := cache.MetaNamespaceKeyFunc(pod)
	e.Expectations.DeletionObserved(key, podKey)
	e.Queue.Add(key)
}

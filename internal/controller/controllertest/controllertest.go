package controllertest

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// Recorder is an EventRecorder that keeps "type reason message" lines.
type Recorder struct {
	mu     sync.Mutex
	events []string
}

// Event records one event.
func (r *Recorder) Event(_ runtime.Object, eventtype, reason, message string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, eventtype+" "+reason+" "+message)
}

// Eventf records one formatted event.
func (r *Recorder) Eventf(o runtime.Object, eventtype, reason, messageFmt string, args ...any) {
	r.Event(o, eventtype, reason, fmt.Sprintf(messageFmt, args...))
}

// AnnotatedEventf records one formatted event, ignoring annotations.
func (r *Recorder) AnnotatedEventf(o runtime.Object, _ map[string]string, eventtype, reason, messageFmt string, args ...any) {
	r.Eventf(o, eventtype, reason, messageFmt, args...)
}

// List returns the recorded events.
func (r *Recorder) List() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.events...)
}

// NewClient returns a fake clientset that, like the API server, fills in
// generateName, uid and creationTimestamp on create.
func NewClient(objs ...runtime.Object) *fake.Clientset {
	client := fake.NewClientset(objs...)
	var n atomic.Int64
	client.PrependReactor("create", "*", func(action k8stesting.Action) (bool, runtime.Object, error) {
		obj, ok := action.(k8stesting.CreateAction)
		if !ok || action.GetSubresource() != "" {
			return false, nil, nil
		}
		m, ok := obj.GetObject().(metav1.Object)
		if !ok {
			return false, nil, nil
		}
		i := n.Add(1)
		if m.GetName() == "" && m.GetGenerateName() != "" {
			m.SetName(fmt.Sprintf("%s%05d", m.GetGenerateName(), i))
		}
		if m.GetUID() == "" {
			m.SetUID(types.UID(fmt.Sprintf("uid-%d", i)))
		}
		if ts := m.GetCreationTimestamp(); ts.IsZero() {
			m.SetCreationTimestamp(metav1.NewTime(time.Unix(1000+i, 0)))
		}
		return false, nil, nil
	})
	// Like the API server, a status write changes only the status.
	client.PrependReactor("update", "*", func(action k8stesting.Action) (bool, runtime.Object, error) {
		obj := action.(k8stesting.UpdateAction).GetObject()
		m := obj.(metav1.Object)
		stored, err := client.Tracker().Get(action.GetResource(), m.GetNamespace(), m.GetName())
		if err != nil {
			return true, nil, err
		}
		if action.GetSubresource() != "status" {
			// ... and a write of the object keeps the stored status.
			switch o := obj.(type) {
			case *appsv1.ReplicaSet:
				o.Status = stored.(*appsv1.ReplicaSet).Status
			case *appsv1.Deployment:
				o.Status = stored.(*appsv1.Deployment).Status
			case *appsv1.StatefulSet:
				o.Status = stored.(*appsv1.StatefulSet).Status
			case *appsv1.DaemonSet:
				o.Status = stored.(*appsv1.DaemonSet).Status
			}
			return false, nil, nil
		}
		merged := stored.DeepCopyObject()
		switch o := merged.(type) {
		case *corev1.Pod:
			o.Status = obj.(*corev1.Pod).Status
		case *appsv1.ReplicaSet:
			o.Status = obj.(*appsv1.ReplicaSet).Status
		case *appsv1.Deployment:
			o.Status = obj.(*appsv1.Deployment).Status
			o.Annotations = obj.(*appsv1.Deployment).Annotations
		case *appsv1.StatefulSet:
			o.Status = obj.(*appsv1.StatefulSet).Status
		case *appsv1.DaemonSet:
			o.Status = obj.(*appsv1.DaemonSet).Status
		default:
			return false, nil, nil
		}
		if err := client.Tracker().Update(action.GetResource(), merged, m.GetNamespace()); err != nil {
			return true, nil, err
		}
		return true, merged, nil
	})
	return client
}

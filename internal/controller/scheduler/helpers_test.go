package scheduler

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// recorder is an EventRecorder that keeps "type reason message" lines.
type recorder struct {
	mu     sync.Mutex
	events []string
}

func (r *recorder) Event(_ runtime.Object, eventtype, reason, message string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, eventtype+" "+reason+" "+message)
}

func (r *recorder) Eventf(o runtime.Object, eventtype, reason, messageFmt string, args ...any) {
	r.Event(o, eventtype, reason, fmt.Sprintf(messageFmt, args...))
}

func (r *recorder) AnnotatedEventf(o runtime.Object, _ map[string]string, eventtype, reason, messageFmt string, args ...any) {
	r.Eventf(o, eventtype, reason, messageFmt, args...)
}

func (r *recorder) list() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.events...)
}

// newClient returns a fake clientset that, like the API server, fills in
// generateName, uid and creationTimestamp on create.
func newClient(objs ...runtime.Object) *fake.Clientset {
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

// eventually polls cond until it returns "" or the deadline passes.
func eventually(t *testing.T, cond func() string) {
	t.Helper()
	var last string
	err := wait.PollUntilContextTimeout(context.Background(), 5*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		last = cond()
		return last == "", nil
	})
	if err != nil {
		t.Fatalf("condition not met before deadline: %s", last)
	}
}

func listPods(t *testing.T, client *fake.Clientset, ns string) []corev1.Pod {
	t.Helper()
	list, err := client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return list.Items
}

// addBinding makes the fake clientset implement pods/binding.
func addBinding(client *fake.Clientset) {
	client.PrependReactor("create", "pods", func(action k8stesting.Action) (bool, runtime.Object, error) {
		if action.GetSubresource() != "binding" {
			return false, nil, nil
		}
		b := action.(k8stesting.CreateAction).GetObject().(*corev1.Binding)
		gvr := corev1.SchemeGroupVersion.WithResource("pods")
		obj, err := client.Tracker().Get(gvr, b.Namespace, b.Name)
		if err != nil {
			return true, nil, err
		}
		pod := obj.(*corev1.Pod).DeepCopy()
		if pod.Spec.NodeName != "" {
			return true, nil, apierrors.NewConflict(gvr.GroupResource(), pod.Name, fmt.Errorf("pod %v is already assigned to node %q", pod.Name, pod.Spec.NodeName))
		}
		pod.Spec.NodeName = b.Target.Name
		return true, nil, client.Tracker().Update(gvr, pod, pod.Namespace)
	})
}

func start(t *testing.T, client *fake.Clientset) *recorder {
	t.Helper()
	addBinding(client)
	ctx, cancel := context.WithCancel(context.Background())
	factory := informers.NewSharedInformerFactory(client, 0)
	rec := &recorder{}
	s, err := New(Config{Client: client, Informers: factory, Recorder: rec, Workers: 3})
	if err != nil {
		t.Fatal(err)
	}
	factory.Start(ctx.Done())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
		factory.Shutdown()
	})
	return rec
}

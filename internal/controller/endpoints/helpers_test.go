package endpoints

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
)

const testNS = "ns"

// newFakeClient returns a fake clientset that, like the API server, fills
// in generated names, UIDs and increasing resourceVersions on writes.
func newFakeClient(objs ...runtime.Object) *fake.Clientset {
	client := fake.NewClientset(objs...)
	var mu sync.Mutex
	n := 0
	stamp := func(action k8stesting.Action) (bool, runtime.Object, error) {
		var obj runtime.Object
		switch a := action.(type) {
		case k8stesting.CreateAction:
			obj = a.GetObject()
		case k8stesting.UpdateAction:
			obj = a.GetObject()
		default:
			return false, nil, nil
		}
		m, err := meta.Accessor(obj)
		if err != nil {
			return false, nil, nil
		}
		mu.Lock()
		n++
		id := n
		mu.Unlock()
		if action.GetVerb() == "create" {
			if m.GetName() == "" && m.GetGenerateName() != "" {
				m.SetName(fmt.Sprintf("%s%05d", m.GetGenerateName(), id))
			}
			if m.GetUID() == "" {
				m.SetUID(types.UID(fmt.Sprintf("uid-%d", id)))
			}
		}
		m.SetResourceVersion(fmt.Sprint(1000 + id))
		return false, nil, nil
	}
	client.PrependReactor("create", "*", stamp)
	client.PrependReactor("update", "*", stamp)
	return client
}

type env struct {
	client   *fake.Clientset
	recorder *record.FakeRecorder
	ctrl     *Controller
	ctx      context.Context
}

// newEnv builds the controller against a fake client holding objs and
// starts the informers; run also starts the controller's workers.
func newEnv(t testing.TB, run bool, objs ...runtime.Object) *env {
	t.Helper()
	client := newFakeClient(objs...)
	factory := informers.NewSharedInformerFactory(client, 0)
	rec := record.NewFakeRecorder(1000)
	c, err := New(Config{Client: client, Informers: factory, Recorder: rec, Logger: slog.New(slog.DiscardHandler), Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	factory.Start(ctx.Done())
	done := make(chan error, 1)
	if run {
		go func() { done <- c.Run(ctx) }()
	} else {
		done <- nil
		if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
			t.Fatal("caches did not sync")
		}
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		factory.Shutdown()
	})
	return &env{client: client, recorder: rec, ctrl: c, ctx: ctx}
}

func testService(name string, selector map[string]string, ports ...corev1.ServicePort) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: testNS, UID: types.UID("svc-" + name)},
		Spec: corev1.ServiceSpec{
			Selector:   selector,
			ClusterIP:  "10.0.0.10",
			IPFamilies: []corev1.IPFamily{corev1.IPv4Protocol},
			Ports:      ports,
		},
	}
}

func tcpPort(name string, port int32, target intstr.IntOrString) corev1.ServicePort {
	return corev1.ServicePort{Name: name, Port: port, TargetPort: target, Protocol: corev1.ProtocolTCP}
}

func testPod(name, ip string, ready bool, lbls map[string]string, containerPorts ...corev1.ContainerPort) *corev1.Pod {
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: testNS, UID: types.UID("pod-" + name), Labels: lbls},
		Spec: corev1.PodSpec{
			NodeName:   "node-a",
			Containers: []corev1.Container{{Name: "c", Ports: containerPorts}},
		},
		Status: corev1.PodStatus{
			Phase:      corev1.PodRunning,
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: status}},
		},
	}
	if ip != "" {
		p.Status.PodIP = ip
		p.Status.PodIPs = []corev1.PodIP{{IP: ip}}
	}
	return p
}

// addr is the address the controller publishes for a test pod.
func addr(pod, ip string) corev1.EndpointAddress {
	node := "node-a"
	return corev1.EndpointAddress{
		IP:        ip,
		NodeName:  &node,
		TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: testNS, Name: pod, UID: types.UID("pod-" + pod)},
	}
}

func epPort(name string, port int32) corev1.EndpointPort {
	return corev1.EndpointPort{Name: name, Port: port, Protocol: corev1.ProtocolTCP}
}

// getEndpoints returns the Endpoints named name from the API, nil when
// absent.
func getEndpoints(t testing.TB, e *env, name string) *corev1.Endpoints {
	t.Helper()
	ep, err := e.client.CoreV1().Endpoints(testNS).Get(e.ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil
	}
	return ep
}

// waitFor polls until check returns "" or the deadline passes.
func waitFor(t testing.TB, what string, check func() string) {
	t.Helper()
	var last string
	err := wait.PollUntilContextTimeout(context.Background(), 5*time.Millisecond, 10*time.Second, true,
		func(context.Context) (bool, error) {
			last = check()
			return last == "", nil
		})
	if err != nil {
		t.Fatalf("%s: %s", what, last)
	}
}

package endpointslice

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	discovery "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"
)

const testNS = "ns"

// newFakeClient returns a fake clientset that, like the API server, fills
// in generated names and UIDs on create.
func newFakeClient(objs ...runtime.Object) *fake.Clientset {
	client := fake.NewClientset(objs...)
	var mu sync.Mutex
	n := 0
	client.PrependReactor("create", "*", func(action k8stesting.Action) (bool, runtime.Object, error) {
		obj := action.(k8stesting.CreateAction).GetObject()
		m, err := meta.Accessor(obj)
		if err != nil {
			return false, nil, nil
		}
		mu.Lock()
		n++
		id := n
		mu.Unlock()
		if m.GetName() == "" && m.GetGenerateName() != "" {
			m.SetName(fmt.Sprintf("%s%05d", m.GetGenerateName(), id))
		}
		if m.GetUID() == "" {
			m.SetUID(types.UID(fmt.Sprintf("uid-%d", id)))
		}
		return false, nil, nil
	})
	return client
}

type env struct {
	client   *fake.Clientset
	recorder *record.FakeRecorder
	ctx      context.Context
}

// startController runs the controller against a fake client holding objs.
func startController(t testing.TB, maxPerSlice int, objs ...runtime.Object) *env {
	t.Helper()
	client := newFakeClient(objs...)
	factory := informers.NewSharedInformerFactory(client, 0)
	rec := record.NewFakeRecorder(1000)
	c, err := New(Config{Client: client, Informers: factory, Recorder: rec, Logger: slog.New(slog.DiscardHandler), MaxEndpointsPerSlice: maxPerSlice, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	factory.Start(ctx.Done())
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		factory.Shutdown()
	})
	return &env{client: client, recorder: rec, ctx: ctx}
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

func testNode(name, zone string) *corev1.Node {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{}}}
	if zone != "" {
		n.Labels[corev1.LabelTopologyZone] = zone
	}
	return n
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

// summarize renders slices as sorted strings that tests compare whole.
func summarize(ss []discovery.EndpointSlice) []string {
	var out []string
	for _, s := range ss {
		var ports []string
		for _, p := range s.Ports {
			ports = append(ports, fmt.Sprintf("%s/%s/%s", deref(p.Name), deref(p.Protocol), int32Str(p.Port)))
		}
		slices.Sort(ports)
		var eps []string
		for _, e := range s.Endpoints {
			eps = append(eps, endpointString(&e))
		}
		slices.Sort(eps)
		out = append(out, fmt.Sprintf("%s ports=[%s] eps=[%s]", s.AddressType, strings.Join(ports, " "), strings.Join(eps, " ")))
	}
	slices.Sort(out)
	return out
}

func endpointString(e *discovery.Endpoint) string {
	s := strings.Join(e.Addresses, ",")
	flag := func(name string, b *bool) {
		if b != nil && *b {
			s += "," + name
		}
	}
	flag("ready", e.Conditions.Ready)
	flag("serving", e.Conditions.Serving)
	flag("terminating", e.Conditions.Terminating)
	if e.Hostname != nil {
		s += ",host=" + *e.Hostname
	}
	if e.Zone != nil {
		s += ",zone=" + *e.Zone
	}
	if e.Hints != nil {
		for _, z := range e.Hints.ForZones {
			s += ",hintZone=" + z.Name
		}
		for _, n := range e.Hints.ForNodes {
			s += ",hintNode=" + n.Name
		}
	}
	return s
}

// listSlices returns the slices of a Service from the API.
func listSlices(t testing.TB, e *env, svc string) []discovery.EndpointSlice {
	t.Helper()
	list, err := e.client.DiscoveryV1().EndpointSlices(testNS).List(e.ctx, metav1.ListOptions{
		LabelSelector: discovery.LabelServiceName + "=" + svc,
	})
	if err != nil {
		t.Fatal(err)
	}
	return list.Items
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

// waitSlices waits until the Service's slices summarize to want.
func waitSlices(t testing.TB, e *env, svc string, want []string) {
	t.Helper()
	waitFor(t, "slices of "+svc, func() string {
		return cmp.Diff(want, summarize(listSlices(t, e, svc)))
	})
}

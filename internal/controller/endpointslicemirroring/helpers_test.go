package endpointslicemirroring

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discovery "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
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
func newEnv(t testing.TB, run bool, maxPerSubset int, objs ...runtime.Object) *env {
	t.Helper()
	client := newFakeClient(objs...)
	factory := informers.NewSharedInformerFactory(client, 0)
	rec := record.NewFakeRecorder(1000)
	c, err := New(Config{Client: client, Informers: factory, Recorder: rec, Logger: slog.New(slog.DiscardHandler),
		Workers: 2, MaxEndpointsPerSubset: maxPerSubset})
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

// selectorless returns a Service without a selector, like the seeds'
// external-http-service.
func selectorless(name string) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: testNS, UID: types.UID("svc-" + name)},
		Spec: corev1.ServiceSpec{
			ClusterIP: "10.0.0.10",
			Ports:     []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP}},
		},
	}
}

func handEndpoints(name string, subsets ...corev1.EndpointSubset) *corev1.Endpoints {
	return &corev1.Endpoints{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: testNS, UID: types.UID("ep-" + name)},
		Subsets:    subsets,
	}
}

func addrs(ips ...string) []corev1.EndpointAddress {
	out := make([]corev1.EndpointAddress, 0, len(ips))
	for _, ip := range ips {
		out = append(out, corev1.EndpointAddress{IP: ip})
	}
	return out
}

func httpPort(port int32) []corev1.EndpointPort {
	return []corev1.EndpointPort{{Name: "http", Port: port, Protocol: corev1.ProtocolTCP}}
}

// summarize renders slices as sorted strings that tests compare whole.
func summarize(ss []discovery.EndpointSlice) []string {
	var out []string
	for _, s := range ss {
		var ports []string
		for _, p := range s.Ports {
			ports = append(ports, fmt.Sprintf("%s/%s/%d", deref(p.Name), deref(p.Protocol), deref(p.Port)))
		}
		slices.Sort(ports)
		var eps []string
		for _, e := range s.Endpoints {
			x := strings.Join(e.Addresses, ",")
			if deref(e.Conditions.Ready) {
				x += ",ready"
			}
			if e.Hostname != nil {
				x += ",host=" + *e.Hostname
			}
			if e.NodeName != nil {
				x += ",node=" + *e.NodeName
			}
			if e.TargetRef != nil {
				x += ",ref=" + e.TargetRef.Kind + "/" + e.TargetRef.Name
			}
			eps = append(eps, x)
		}
		out = append(out, fmt.Sprintf("%s ports=[%s] eps=[%s]", s.AddressType, strings.Join(ports, " "), strings.Join(eps, " ")))
	}
	slices.Sort(out)
	return out
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

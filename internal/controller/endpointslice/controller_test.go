package endpointslice

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	discovery "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/informers"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/ptr"
)

var web = map[string]string{"app": "web"}

func createPod(t *testing.T, e *env, p *corev1.Pod) {
	t.Helper()
	if _, err := e.client.CoreV1().Pods(testNS).Create(e.ctx, p, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func updatePod(t *testing.T, e *env, p *corev1.Pod) {
	t.Helper()
	if _, err := e.client.CoreV1().Pods(testNS).Update(e.ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func deletePod(t *testing.T, e *env, name string) {
	t.Helper()
	if err := e.client.CoreV1().Pods(testNS).Delete(e.ctx, name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
}

// TestPodLifecycle follows the upstream conformance scenario: a Service
// with 0, 1, 2, 1 and again 0 matching pods.
func TestPodLifecycle(t *testing.T) {
	svc := testService("svc", web, tcpPort("http", 80, intstr.FromInt32(8080)))
	e := startController(t, 0, svc, testNode("node-a", ""))
	steps := []struct {
		name string
		do   func()
		want []string
	}{
		{"no pods", func() {}, []string{"IPv4 ports=[] eps=[]"}},
		{"one pod", func() { createPod(t, e, testPod("p1", "10.1.0.1", true, web)) },
			[]string{"IPv4 ports=[http/TCP/8080] eps=[10.1.0.1,ready,serving]"}},
		{"two pods", func() {
			createPod(t, e, testPod("p2", "10.1.0.2", true, map[string]string{"app": "web", "extra": "x"}))
		},
			[]string{"IPv4 ports=[http/TCP/8080] eps=[10.1.0.1,ready,serving 10.1.0.2,ready,serving]"}},
		{"pod with other labels ignored", func() { createPod(t, e, testPod("other", "10.1.0.9", true, map[string]string{"app": "db"})) },
			[]string{"IPv4 ports=[http/TCP/8080] eps=[10.1.0.1,ready,serving 10.1.0.2,ready,serving]"}},
		{"one pod again", func() { deletePod(t, e, "p1") },
			[]string{"IPv4 ports=[http/TCP/8080] eps=[10.1.0.2,ready,serving]"}},
		{"no pods again", func() { deletePod(t, e, "p2") }, []string{"IPv4 ports=[] eps=[]"}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			st.do()
			waitSlices(t, e, "svc", st.want)
		})
	}
}

// TestPodStates covers the endpoint conditions for pod states.
func TestPodStates(t *testing.T) {
	now := metav1.Now()
	terminating := func(p *corev1.Pod) *corev1.Pod { p.DeletionTimestamp = &now; return p }
	phase := func(p *corev1.Pod, ph corev1.PodPhase) *corev1.Pod { p.Status.Phase = ph; return p }
	tests := []struct {
		name       string
		publishNRA bool
		pod        *corev1.Pod
		want       []string
	}{
		{"ready", false, testPod("p", "10.1.0.1", true, web), []string{"IPv4 ports=[http/TCP/80] eps=[10.1.0.1,ready,serving]"}},
		{"not ready", false, testPod("p", "10.1.0.1", false, web), []string{"IPv4 ports=[http/TCP/80] eps=[10.1.0.1]"}},
		{"not ready published", true, testPod("p", "10.1.0.1", false, web), []string{"IPv4 ports=[http/TCP/80] eps=[10.1.0.1,ready]"}},
		{"terminating serving", false, terminating(testPod("p", "10.1.0.1", true, web)),
			[]string{"IPv4 ports=[http/TCP/80] eps=[10.1.0.1,serving,terminating]"}},
		{"terminating published", true, terminating(testPod("p", "10.1.0.1", true, web)),
			[]string{"IPv4 ports=[http/TCP/80] eps=[10.1.0.1,ready,serving,terminating]"}},
		{"succeeded", false, phase(testPod("p", "10.1.0.1", true, web), corev1.PodSucceeded), []string{"IPv4 ports=[] eps=[]"}},
		{"failed", true, phase(testPod("p", "10.1.0.1", true, web), corev1.PodFailed), []string{"IPv4 ports=[] eps=[]"}},
		{"no ip", false, testPod("p", "", true, web), []string{"IPv4 ports=[] eps=[]"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			svc := testService("svc", web, tcpPort("http", 80, intstr.FromInt32(80)))
			svc.Spec.PublishNotReadyAddresses = tc.publishNRA
			e := startController(t, 0, svc, testNode("node-a", ""), tc.pod)
			waitSlices(t, e, "svc", tc.want)
		})
	}
}

func TestReadinessFlip(t *testing.T) {
	svc := testService("svc", web, tcpPort("http", 80, intstr.FromInt32(80)))
	pod := testPod("p", "10.1.0.1", false, web)
	e := startController(t, 0, svc, testNode("node-a", ""), pod)
	waitSlices(t, e, "svc", []string{"IPv4 ports=[http/TCP/80] eps=[10.1.0.1]"})
	for i, ready := range []bool{true, false, true} {
		t.Run(fmt.Sprintf("flip %d ready=%v", i, ready), func(t *testing.T) {
			p := testPod("p", "10.1.0.1", ready, web)
			p.ResourceVersion = fmt.Sprint(100 + i)
			updatePod(t, e, p)
			want := "IPv4 ports=[http/TCP/80] eps=[10.1.0.1]"
			if ready {
				want = "IPv4 ports=[http/TCP/80] eps=[10.1.0.1,ready,serving]"
			}
			waitSlices(t, e, "svc", []string{want})
		})
	}
}

// TestNamedTargetPort: two pods resolve the same port name to different
// numbers, so they land in two slices.
func TestNamedTargetPort(t *testing.T) {
	svc := testService("svc", web, tcpPort("http", 80, intstr.FromString("web")))
	e := startController(t, 0, svc, testNode("node-a", ""),
		testPod("p1", "10.1.0.1", true, web, corev1.ContainerPort{Name: "web", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}),
		testPod("p2", "10.1.0.2", true, web, corev1.ContainerPort{Name: "web", ContainerPort: 8090, Protocol: corev1.ProtocolTCP}),
		testPod("p3", "10.1.0.3", true, web, corev1.ContainerPort{Name: "web", ContainerPort: 8080, Protocol: corev1.ProtocolUDP}),
	)
	waitSlices(t, e, "svc", []string{
		"IPv4 ports=[] eps=[10.1.0.3,ready,serving]",
		"IPv4 ports=[http/TCP/8080] eps=[10.1.0.1,ready,serving]",
		"IPv4 ports=[http/TCP/8090] eps=[10.1.0.2,ready,serving]",
	})
}

func TestMultiPortAndSliceMetadata(t *testing.T) {
	svc := testService("svc", web,
		tcpPort("http", 80, intstr.FromInt32(8080)),
		corev1.ServicePort{Name: "dns", Port: 53, TargetPort: intstr.FromInt32(5353), Protocol: corev1.ProtocolUDP, AppProtocol: ptr.To("dns")})
	svc.Labels = map[string]string{"team": "a", discovery.LabelManagedBy: "someone"}
	pod := testPod("p1", "10.1.0.1", true, web)
	pod.Spec.Hostname = "host1"
	pod.Spec.Subdomain = "svc"
	e := startController(t, 0, svc, testNode("node-a", "zone-1"), pod)
	waitSlices(t, e, "svc", []string{"IPv4 ports=[dns/UDP/5353 http/TCP/8080] eps=[10.1.0.1,ready,serving,host=host1,zone=zone-1]"})
	s := listSlices(t, e, "svc")[0]
	got := s.ObjectMeta
	got.ManagedFields = nil
	want := metav1.ObjectMeta{
		Name:         got.Name,
		GenerateName: "svc-",
		Namespace:    testNS,
		UID:          got.UID,
		Labels: map[string]string{
			"team":                     "a",
			discovery.LabelServiceName: "svc",
			discovery.LabelManagedBy:   ControllerName,
		},
		Annotations: got.Annotations,
		OwnerReferences: []metav1.OwnerReference{{
			APIVersion: "v1", Kind: "Service", Name: "svc", UID: svc.UID,
			Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true),
		}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("slice metadata (-want +got):\n%s", diff)
	}
	wantEP := discovery.Endpoint{
		Addresses:  []string{"10.1.0.1"},
		Conditions: discovery.EndpointConditions{Ready: ptr.To(true), Serving: ptr.To(true), Terminating: ptr.To(false)},
		Hostname:   ptr.To("host1"),
		TargetRef:  &corev1.ObjectReference{Kind: "Pod", Namespace: testNS, Name: "p1", UID: pod.UID},
		NodeName:   ptr.To("node-a"),
		Zone:       ptr.To("zone-1"),
	}
	if diff := cmp.Diff([]discovery.Endpoint{wantEP}, s.Endpoints); diff != "" {
		t.Errorf("endpoints (-want +got):\n%s", diff)
	}
}

func TestManyPodsSplitIntoSlices(t *testing.T) {
	svc := testService("svc", web, tcpPort("http", 80, intstr.FromInt32(80)))
	objs := []runtime.Object{svc, testNode("node-a", "")}
	for i := range 250 {
		objs = append(objs, testPod(fmt.Sprintf("p%03d", i), fmt.Sprintf("10.1.%d.%d", i/200, i%200+1), true, web))
	}
	e := startController(t, 0, objs...)
	waitFor(t, "250 endpoints in slices of at most 100", func() string {
		var sizes []int
		seen := map[string]bool{}
		for _, s := range listSlices(t, e, "svc") {
			sizes = append(sizes, len(s.Endpoints))
			for _, ep := range s.Endpoints {
				seen[ep.Addresses[0]] = true
			}
		}
		slices.Sort(sizes)
		if diff := cmp.Diff([]int{50, 100, 100}, sizes); diff != "" || len(seen) != 250 {
			return fmt.Sprintf("got sizes %v with %d distinct addresses", sizes, len(seen))
		}
		return ""
	})
}

func TestDeletedSliceComesBack(t *testing.T) {
	svc := testService("svc", web, tcpPort("http", 80, intstr.FromInt32(80)))
	e := startController(t, 0, svc, testNode("node-a", ""), testPod("p1", "10.1.0.1", true, web))
	want := []string{"IPv4 ports=[http/TCP/80] eps=[10.1.0.1,ready,serving]"}
	waitSlices(t, e, "svc", want)
	old := listSlices(t, e, "svc")[0].Name
	if err := e.client.DiscoveryV1().EndpointSlices(testNS).Delete(e.ctx, old, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "slice recreated", func() string {
		ss := listSlices(t, e, "svc")
		if len(ss) != 1 || ss[0].Name == old {
			return fmt.Sprintf("got %d slices (old name %s)", len(ss), old)
		}
		return cmp.Diff(want, summarize(ss))
	})
}

func TestServiceDeletedRemovesSlices(t *testing.T) {
	svc := testService("svc", web, tcpPort("http", 80, intstr.FromInt32(80)))
	e := startController(t, 0, svc, testNode("node-a", ""), testPod("p1", "10.1.0.1", true, web))
	waitSlices(t, e, "svc", []string{"IPv4 ports=[http/TCP/80] eps=[10.1.0.1,ready,serving]"})
	if err := e.client.CoreV1().Services(testNS).Delete(e.ctx, "svc", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitSlices(t, e, "svc", nil)
}

func TestSelectorChange(t *testing.T) {
	blue := map[string]string{"app": "web", "color": "blue"}
	green := map[string]string{"app": "web", "color": "green"}
	svc := testService("svc", blue, tcpPort("http", 80, intstr.FromInt32(80)))
	e := startController(t, 0, svc, testNode("node-a", ""),
		testPod("b", "10.1.0.1", true, blue), testPod("g", "10.1.0.2", true, green))
	waitSlices(t, e, "svc", []string{"IPv4 ports=[http/TCP/80] eps=[10.1.0.1,ready,serving]"})
	svc = svc.DeepCopy()
	svc.Spec.Selector = green
	if _, err := e.client.CoreV1().Services(testNS).Update(e.ctx, svc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitSlices(t, e, "svc", []string{"IPv4 ports=[http/TCP/80] eps=[10.1.0.2,ready,serving]"})
	svc = svc.DeepCopy()
	svc.Spec.Selector = nil
	if _, err := e.client.CoreV1().Services(testNS).Update(e.ctx, svc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitSlices(t, e, "svc", nil)
}

func TestTrafficDistributionHints(t *testing.T) {
	tests := []struct {
		name string
		td   string
		want []string
	}{
		{"PreferClose", corev1.ServiceTrafficDistributionPreferClose,
			[]string{"IPv4 ports=[http/TCP/80] eps=[10.1.0.1,ready,serving,zone=z1,hintZone=z1 10.1.0.2]"}},
		{"PreferSameZone", corev1.ServiceTrafficDistributionPreferSameZone,
			[]string{"IPv4 ports=[http/TCP/80] eps=[10.1.0.1,ready,serving,zone=z1,hintZone=z1 10.1.0.2]"}},
		{"PreferSameNode", corev1.ServiceTrafficDistributionPreferSameNode,
			[]string{"IPv4 ports=[http/TCP/80] eps=[10.1.0.1,ready,serving,zone=z1,hintZone=z1,hintNode=node-z 10.1.0.2]"}},
		{"unset", "", []string{"IPv4 ports=[http/TCP/80] eps=[10.1.0.1,ready,serving,zone=z1 10.1.0.2]"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			svc := testService("svc", web, tcpPort("http", 80, intstr.FromInt32(80)))
			if tc.td != "" {
				svc.Spec.TrafficDistribution = ptr.To(tc.td)
			}
			p1 := testPod("p1", "10.1.0.1", true, web)
			p1.Spec.NodeName = "node-z"
			p2 := testPod("p2", "10.1.0.2", false, web)
			p2.Spec.NodeName = "node-a"
			e := startController(t, 0, svc, testNode("node-z", "z1"), testNode("node-a", ""), p1, p2)
			waitSlices(t, e, "svc", tc.want)
		})
	}
}

func TestDualStack(t *testing.T) {
	svc := testService("svc", web, tcpPort("http", 80, intstr.FromInt32(80)))
	svc.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv6Protocol, corev1.IPv4Protocol}
	p := testPod("p1", "10.1.0.1", true, web)
	p.Status.PodIPs = append(p.Status.PodIPs, corev1.PodIP{IP: "fd00::0001"})
	e := startController(t, 0, svc, testNode("node-a", ""), p)
	waitSlices(t, e, "svc", []string{
		"IPv4 ports=[http/TCP/80] eps=[10.1.0.1,ready,serving]",
		"IPv6 ports=[http/TCP/80] eps=[fd00::1,ready,serving]",
	})
}

func TestFailureRecordsEvent(t *testing.T) {
	svc := testService("svc", web, tcpPort("http", 80, intstr.FromInt32(80)))
	p := testPod("p1", "10.1.0.1", true, web)
	p.Spec.NodeName = "missing"
	e := startController(t, 0, svc, p)
	select {
	case ev := <-e.recorder.Events:
		want := "Warning FailedToUpdateEndpointSlices Error updating Endpoint Slices for Service ns/svc: skipped pod p1: node \"missing\" not found"
		if ev != want {
			t.Errorf("got event %q, want %q", ev, want)
		}
	case <-e.ctx.Done():
		t.Fatal("no event")
	}
	waitSlices(t, e, "svc", []string{"IPv4 ports=[] eps=[]"})
}

// TestSelectorlessServiceNeedsNoAPIList: a selectorless Service with no
// slice of the controller costs no API list (thousands of them would each
// scan every slice of the namespace), while one with a managed slice in
// the cache still has it deleted.
func TestSelectorlessServiceNeedsNoAPIList(t *testing.T) {
	managed := &discovery.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Name: "old-abc", Namespace: testNS,
		Labels: map[string]string{discovery.LabelServiceName: "old", discovery.LabelManagedBy: ControllerName}},
		AddressType: discovery.AddressTypeIPv4}
	client := newFakeClient(testService("plain", nil), testService("old", nil), managed)
	factory := informers.NewSharedInformerFactory(client, 0)
	c, err := New(Config{Client: client, Informers: factory, Recorder: record.NewFakeRecorder(10),
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	factory.Start(ctx.Done())
	defer func() {
		cancel()
		factory.Shutdown()
	}()
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		t.Fatal("caches not synced")
	}
	labelLists := func() int {
		n := 0
		for _, a := range client.Actions() {
			if l, ok := a.(k8stesting.ListAction); ok && a.GetResource().Resource == "endpointslices" &&
				!l.GetListRestrictions().Labels.Empty() {
				n++
			}
		}
		return n
	}
	if err := c.sync(ctx, testNS+"/plain"); err != nil {
		t.Fatalf("sync plain: %v", err)
	}
	if got := labelLists(); got != 0 {
		t.Errorf("API lists of EndpointSlices for a selectorless Service without slices: got %d, want 0", got)
	}
	if err := c.sync(ctx, testNS+"/old"); err != nil {
		t.Fatalf("sync old: %v", err)
	}
	if _, err := client.DiscoveryV1().EndpointSlices(testNS).Get(ctx, "old-abc", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("managed slice of a selectorless Service: got err %v, want NotFound", err)
	}
}

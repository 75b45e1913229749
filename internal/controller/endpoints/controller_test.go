package endpoints

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

var web = map[string]string{"app": "web"}

// waitSubsets waits until the Endpoints named name hold want.
func waitSubsets(t *testing.T, e *env, name string, want []corev1.EndpointSubset) {
	t.Helper()
	waitFor(t, "subsets of "+name, func() string {
		ep := getEndpoints(t, e, name)
		if ep == nil {
			return "no Endpoints"
		}
		return cmp.Diff(want, ep.Subsets, cmpopts.EquateEmpty())
	})
}

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
	e := newEnv(t, true, svc)
	http := []corev1.EndpointPort{epPort("http", 8080)}
	steps := []struct {
		name string
		do   func()
		want []corev1.EndpointSubset
	}{
		{"no pods", func() {}, nil},
		{"one pod", func() { createPod(t, e, testPod("p1", "10.1.0.1", true, web)) },
			[]corev1.EndpointSubset{{Addresses: []corev1.EndpointAddress{addr("p1", "10.1.0.1")}, Ports: http}}},
		{"two pods", func() {
			createPod(t, e, testPod("p2", "10.1.0.2", true, map[string]string{"app": "web", "extra": "x"}))
		}, []corev1.EndpointSubset{{Addresses: []corev1.EndpointAddress{addr("p1", "10.1.0.1"), addr("p2", "10.1.0.2")}, Ports: http}}},
		{"pod with other labels ignored", func() { createPod(t, e, testPod("other", "10.1.0.9", true, map[string]string{"app": "db"})) },
			[]corev1.EndpointSubset{{Addresses: []corev1.EndpointAddress{addr("p1", "10.1.0.1"), addr("p2", "10.1.0.2")}, Ports: http}}},
		{"one pod again", func() { deletePod(t, e, "p1") },
			[]corev1.EndpointSubset{{Addresses: []corev1.EndpointAddress{addr("p2", "10.1.0.2")}, Ports: http}}},
		{"no pods again", func() { deletePod(t, e, "p2") }, nil},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			st.do()
			waitSubsets(t, e, "svc", st.want)
		})
	}
}

// TestPodStates covers where pods in each state land.
func TestPodStates(t *testing.T) {
	now := metav1.Now()
	terminating := func(p *corev1.Pod) *corev1.Pod { p.DeletionTimestamp = &now; return p }
	phase := func(p *corev1.Pod, ph corev1.PodPhase) *corev1.Pod { p.Status.Phase = ph; return p }
	ports := []corev1.EndpointPort{epPort("http", 80)}
	ready := []corev1.EndpointSubset{{Addresses: []corev1.EndpointAddress{addr("p", "10.1.0.1")}, Ports: ports}}
	notReady := []corev1.EndpointSubset{{NotReadyAddresses: []corev1.EndpointAddress{addr("p", "10.1.0.1")}, Ports: ports}}
	tests := []struct {
		name       string
		publishNRA bool
		pod        *corev1.Pod
		want       []corev1.EndpointSubset
	}{
		{"ready", false, testPod("p", "10.1.0.1", true, web), ready},
		{"not ready", false, testPod("p", "10.1.0.1", false, web), notReady},
		{"not ready published", true, testPod("p", "10.1.0.1", false, web), ready},
		{"terminating dropped", false, terminating(testPod("p", "10.1.0.1", true, web)), nil},
		{"terminating published", true, terminating(testPod("p", "10.1.0.1", false, web)), ready},
		{"succeeded", false, phase(testPod("p", "10.1.0.1", true, web), corev1.PodSucceeded), nil},
		{"failed published", true, phase(testPod("p", "10.1.0.1", true, web), corev1.PodFailed), nil},
		{"no ip", false, testPod("p", "", true, web), nil},
		{"wrong family", false, testPod("p", "fd00::1", true, web), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			svc := testService("svc", web, tcpPort("http", 80, intstr.FromInt32(80)))
			svc.Spec.PublishNotReadyAddresses = tc.publishNRA
			e := newEnv(t, true, svc, tc.pod)
			waitSubsets(t, e, "svc", tc.want)
		})
	}
}

func TestReadinessFlip(t *testing.T) {
	svc := testService("svc", web, tcpPort("http", 80, intstr.FromInt32(80)))
	e := newEnv(t, true, svc, testPod("p", "10.1.0.1", false, web))
	ports := []corev1.EndpointPort{epPort("http", 80)}
	for i, ready := range []bool{false, true, false, true} {
		t.Run(fmt.Sprintf("flip %d ready=%v", i, ready), func(t *testing.T) {
			if i > 0 {
				updatePod(t, e, testPod("p", "10.1.0.1", ready, web))
			}
			want := []corev1.EndpointSubset{{NotReadyAddresses: []corev1.EndpointAddress{addr("p", "10.1.0.1")}, Ports: ports}}
			if ready {
				want = []corev1.EndpointSubset{{Addresses: []corev1.EndpointAddress{addr("p", "10.1.0.1")}, Ports: ports}}
			}
			waitSubsets(t, e, "svc", want)
		})
	}
}

// TestNamedTargetPort: pods resolve the same port name to different
// numbers (or not at all); subsets group addresses by the ports they
// serve, as the API server stores them.
func TestNamedTargetPort(t *testing.T) {
	svc := testService("svc", web,
		tcpPort("http", 80, intstr.FromString("web")),
		tcpPort("metrics", 9090, intstr.FromInt32(9100)))
	e := newEnv(t, true, svc,
		testPod("p1", "10.1.0.1", true, web, corev1.ContainerPort{Name: "web", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}),
		testPod("p2", "10.1.0.2", true, web, corev1.ContainerPort{Name: "web", ContainerPort: 8090, Protocol: corev1.ProtocolTCP}),
		testPod("p3", "10.1.0.3", false, web, corev1.ContainerPort{Name: "web", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}),
		testPod("p4", "10.1.0.4", true, web, corev1.ContainerPort{Name: "web", ContainerPort: 8080, Protocol: corev1.ProtocolUDP}),
	)
	waitSubsets(t, e, "svc", []corev1.EndpointSubset{
		{
			Addresses:         []corev1.EndpointAddress{addr("p1", "10.1.0.1"), addr("p2", "10.1.0.2"), addr("p4", "10.1.0.4")},
			NotReadyAddresses: []corev1.EndpointAddress{addr("p3", "10.1.0.3")},
			Ports:             []corev1.EndpointPort{epPort("metrics", 9100)},
		},
		{
			Addresses:         []corev1.EndpointAddress{addr("p1", "10.1.0.1")},
			NotReadyAddresses: []corev1.EndpointAddress{addr("p3", "10.1.0.3")},
			Ports:             []corev1.EndpointPort{epPort("http", 8080)},
		},
		{
			Addresses: []corev1.EndpointAddress{addr("p2", "10.1.0.2")},
			Ports:     []corev1.EndpointPort{epPort("http", 8090)},
		},
	})
}

func manyPods(n int, ready bool) []runtime.Object {
	objs := make([]runtime.Object, 0, n)
	for i := range n {
		objs = append(objs, testPod(fmt.Sprintf("p%04d", i), fmt.Sprintf("10.1.%d.%d", i/250, i%250+1), ready, web))
	}
	return objs
}

// TestOverCapacity: 1001 pods give 1000 addresses and the over-capacity
// annotation, which goes away once back under the cap.
func TestOverCapacity(t *testing.T) {
	svc := testService("svc", web, tcpPort("http", 80, intstr.FromInt32(80)))
	e := newEnv(t, true, append(manyPods(MaxAddresses+1, true), svc)...)
	check := func(wantAddrs int, wantAnnotation string) func() string {
		return func() string {
			ep := getEndpoints(t, e, "svc")
			if ep == nil {
				return "no Endpoints"
			}
			got := countAddresses(ep.Subsets)
			if got != wantAddrs || ep.Annotations[corev1.EndpointsOverCapacity] != wantAnnotation {
				return fmt.Sprintf("got %d addresses, annotation %q; want %d, %q",
					got, ep.Annotations[corev1.EndpointsOverCapacity], wantAddrs, wantAnnotation)
			}
			return ""
		}
	}
	waitFor(t, "truncated", check(MaxAddresses, "truncated"))
	deletePod(t, e, "p0000")
	waitFor(t, "back under capacity", check(MaxAddresses, ""))
	deletePod(t, e, "p0001")
	waitFor(t, "one less", check(MaxAddresses-1, ""))
}

func TestTruncate(t *testing.T) {
	addrs := func(prefix string, n int) []corev1.EndpointAddress {
		out := make([]corev1.EndpointAddress, n)
		for i := range out {
			out[i] = corev1.EndpointAddress{IP: fmt.Sprintf("%s.%d", prefix, i)}
		}
		return out
	}
	type counts struct{ ready, notReady int }
	tests := []struct {
		name          string
		in            []counts
		max           int
		want          []counts
		wantTruncated bool
	}{
		{"under", []counts{{3, 2}}, 5, []counts{{3, 2}}, false},
		{"not ready cut proportionally", []counts{{2, 6}, {2, 2}}, 8, []counts{{2, 3}, {2, 1}}, true},
		{"ready over the cap drops not ready", []counts{{6, 1}, {4, 1}}, 5, []counts{{3, 0}, {2, 0}}, true},
		{"empty subset dropped", []counts{{6, 0}, {0, 3}}, 4, []counts{{4, 0}}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var subsets []corev1.EndpointSubset
			for i, c := range tc.in {
				subsets = append(subsets, corev1.EndpointSubset{
					Addresses:         addrs(fmt.Sprintf("r%d", i), c.ready),
					NotReadyAddresses: addrs(fmt.Sprintf("n%d", i), c.notReady),
				})
			}
			got, truncated := truncate(subsets, tc.max)
			var gotCounts []counts
			for _, ss := range got {
				gotCounts = append(gotCounts, counts{len(ss.Addresses), len(ss.NotReadyAddresses)})
			}
			if truncated != tc.wantTruncated {
				t.Errorf("got truncated %v, want %v", truncated, tc.wantTruncated)
			}
			if diff := cmp.Diff(tc.want, gotCounts, cmp.AllowUnexported(counts{})); diff != "" {
				t.Errorf("counts (-want +got):\n%s", diff)
			}
		})
	}
}

// TestMetadata covers labels (copied from the Service, headless mark),
// hostname, and the trigger-time annotation.
func TestMetadata(t *testing.T) {
	svc := testService("svc", web, tcpPort("http", 80, intstr.FromInt32(80)))
	svc.Spec.ClusterIP = corev1.ClusterIPNone
	svc.Labels = map[string]string{"team": "a"}
	pod := testPod("p1", "10.1.0.1", true, web)
	pod.Spec.Hostname = "host1"
	pod.Spec.Subdomain = "svc"
	ts := metav1.Now()
	pod.Status.Conditions[0].LastTransitionTime = ts
	other := testPod("p2", "10.1.0.2", true, web)
	other.Spec.Hostname = "host2"
	other.Spec.Subdomain = "elsewhere"
	e := newEnv(t, true, svc, pod, other)
	withHost := addr("p1", "10.1.0.1")
	withHost.Hostname = "host1"
	waitSubsets(t, e, "svc", []corev1.EndpointSubset{{
		Addresses: []corev1.EndpointAddress{withHost, addr("p2", "10.1.0.2")},
		Ports:     []corev1.EndpointPort{epPort("http", 80)},
	}})
	ep := getEndpoints(t, e, "svc")
	if diff := cmp.Diff(map[string]string{"team": "a", corev1.IsHeadlessService: ""}, ep.Labels); diff != "" {
		t.Errorf("labels (-want +got):\n%s", diff)
	}
	if got, want := ep.Annotations[corev1.EndpointsLastChangeTriggerTime], ts.UTC().Format(time.RFC3339Nano); got != want {
		t.Errorf("got trigger time %q, want %q", got, want)
	}

	// Giving the Service a cluster IP and new labels rewrites the labels.
	svc.Spec.ClusterIP = "10.0.0.10"
	svc.Labels = map[string]string{"team": "b"}
	if _, err := e.client.CoreV1().Services(testNS).Update(e.ctx, svc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "labels", func() string {
		return cmp.Diff(map[string]string{"team": "b"}, getEndpoints(t, e, "svc").Labels, cmpopts.EquateEmpty())
	})
}

// TestHeadlessWithoutPorts: a headless Service without ports gets
// port-less subsets; a cluster-IP one without ports gets none.
func TestHeadlessWithoutPorts(t *testing.T) {
	tests := []struct {
		name      string
		clusterIP string
		want      []corev1.EndpointSubset
	}{
		{"headless", corev1.ClusterIPNone, []corev1.EndpointSubset{{Addresses: []corev1.EndpointAddress{addr("p1", "10.1.0.1")}}}},
		{"cluster ip", "10.0.0.10", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			svc := testService("svc", web)
			svc.Spec.ClusterIP = tc.clusterIP
			e := newEnv(t, true, svc, testPod("p1", "10.1.0.1", true, web))
			waitSubsets(t, e, "svc", tc.want)
		})
	}
}

func endpointsWrites(e *env) []string {
	var out []string
	for _, a := range e.client.Actions() {
		if a.GetResource().Resource != "endpoints" {
			continue
		}
		switch a.GetVerb() {
		case "create", "update", "delete", "patch":
			name := ""
			switch act := a.(type) {
			case k8stesting.DeleteAction:
				name = act.GetName()
			case k8stesting.CreateAction:
				if m, ok := act.GetObject().(*corev1.Endpoints); ok {
					name = m.Name
				}
			case k8stesting.UpdateAction:
				if m, ok := act.GetObject().(*corev1.Endpoints); ok {
					name = m.Name
				}
			}
			out = append(out, a.GetVerb()+" "+name)
		}
	}
	return out
}

// TestUserOwnedEndpointsUntouched: Endpoints of Services without a
// selector (the seeds' external-service example) and of ExternalName
// Services are never written.
func TestUserOwnedEndpointsUntouched(t *testing.T) {
	external := testService("external-http-service", nil, tcpPort("http", 80, intstr.FromInt32(80)))
	name := testService("by-name", web)
	name.Spec.Type = corev1.ServiceTypeExternalName
	name.Spec.ExternalName = "example.com"
	hand := func(n string) *corev1.Endpoints {
		return &corev1.Endpoints{
			ObjectMeta: metav1.ObjectMeta{Name: n, Namespace: testNS},
			Subsets: []corev1.EndpointSubset{{
				Addresses: []corev1.EndpointAddress{{IP: "192.168.3.215"}},
				Ports:     []corev1.EndpointPort{epPort("http", 80)},
			}},
		}
	}
	e := newEnv(t, false, external, name, hand("external-http-service"), hand("by-name"), testPod("p1", "10.1.0.1", true, web))
	for _, key := range []string{testNS + "/external-http-service", testNS + "/by-name"} {
		if err := e.ctrl.sync(e.ctx, key); err != nil {
			t.Fatalf("sync %s: %v", key, err)
		}
	}
	if got := endpointsWrites(e); len(got) != 0 {
		t.Errorf("got writes %v, want none", got)
	}
}

// TestSkipUnchanged: a sync with nothing new writes nothing.
func TestSkipUnchanged(t *testing.T) {
	svc := testService("svc", web, tcpPort("http", 80, intstr.FromInt32(80)))
	e := newEnv(t, false, svc, testPod("p1", "10.1.0.1", true, web))
	key := testNS + "/svc"
	if err := e.ctrl.sync(e.ctx, key); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "cache", func() string {
		if err := e.ctrl.sync(e.ctx, key); err != nil {
			return err.Error()
		}
		return ""
	})
	before := len(endpointsWrites(e))
	for range 3 {
		if err := e.ctrl.sync(e.ctx, key); err != nil {
			t.Fatal(err)
		}
	}
	if got := endpointsWrites(e); len(got) != before || before != 1 {
		t.Errorf("got writes %v, want only the first create", got)
	}
}

// TestDeletion: Endpoints go with their Service, come back when deleted
// behind the controller's back, and orphans found at start are removed
// (leader-election records aside).
func TestDeletion(t *testing.T) {
	svc := testService("svc", web, tcpPort("http", 80, intstr.FromInt32(80)))
	orphan := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: "orphan", Namespace: testNS}}
	leader := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: "leader", Namespace: testNS,
		Annotations: map[string]string{resourcelock.LeaderElectionRecordAnnotationKey: "{}"}}}
	e := newEnv(t, true, svc, orphan, leader, testPod("p1", "10.1.0.1", true, web))
	want := []corev1.EndpointSubset{{Addresses: []corev1.EndpointAddress{addr("p1", "10.1.0.1")}, Ports: []corev1.EndpointPort{epPort("http", 80)}}}
	waitSubsets(t, e, "svc", want)
	waitFor(t, "orphan deleted", func() string {
		if getEndpoints(t, e, "orphan") != nil {
			return "orphan still there"
		}
		return ""
	})
	if getEndpoints(t, e, "leader") == nil {
		t.Errorf("leader-election Endpoints deleted")
	}

	if err := e.client.CoreV1().Endpoints(testNS).Delete(e.ctx, "svc", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitSubsets(t, e, "svc", want)

	if err := e.client.CoreV1().Services(testNS).Delete(e.ctx, "svc", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "Endpoints deleted with the Service", func() string {
		if getEndpoints(t, e, "svc") != nil {
			return "Endpoints still there"
		}
		return ""
	})
}

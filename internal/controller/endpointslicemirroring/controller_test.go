package endpointslicemirroring

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	corev1 "k8s.io/api/core/v1"
	discovery "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

// waitSlices waits until the Service's slices summarize to want.
func waitSlices(t *testing.T, e *env, svc string, want []string) {
	t.Helper()
	waitFor(t, "slices of "+svc, func() string {
		return cmp.Diff(want, summarize(listSlices(t, e, svc)), cmpopts.EquateEmpty())
	})
}

func updateEndpoints(t *testing.T, e *env, ep *corev1.Endpoints) {
	t.Helper()
	if _, err := e.client.CoreV1().Endpoints(testNS).Update(e.ctx, ep, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// TestMirrorLifecycle: the seeds' external-service example, then edits of
// the Endpoints, then their deletion.
func TestMirrorLifecycle(t *testing.T) {
	const name = "external-http-service"
	e := newEnv(t, true, 0, selectorless(name),
		handEndpoints(name, corev1.EndpointSubset{Addresses: addrs("192.168.3.215"), Ports: httpPort(80)}))
	waitSlices(t, e, name, []string{"IPv4 ports=[http/TCP/80] eps=[192.168.3.215,ready]"})

	node := "node-a"
	steps := []struct {
		name    string
		subsets []corev1.EndpointSubset
		want    []string
	}{
		{"address added", []corev1.EndpointSubset{{Addresses: addrs("192.168.3.215", "192.168.3.216"), Ports: httpPort(80)}},
			[]string{"IPv4 ports=[http/TCP/80] eps=[192.168.3.215,ready 192.168.3.216,ready]"}},
		{"not ready and details", []corev1.EndpointSubset{{
			Addresses: []corev1.EndpointAddress{{IP: "192.168.3.215", Hostname: "db-0", NodeName: &node,
				TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: testNS, Name: "db-0"}}},
			NotReadyAddresses: addrs("192.168.3.216"),
			Ports:             httpPort(80),
		}}, []string{"IPv4 ports=[http/TCP/80] eps=[192.168.3.215,ready,host=db-0,node=node-a,ref=Pod/db-0 192.168.3.216]"}},
		{"port changed", []corev1.EndpointSubset{{Addresses: addrs("192.168.3.215"), Ports: httpPort(8080)}},
			[]string{"IPv4 ports=[http/TCP/8080] eps=[192.168.3.215,ready]"}},
		{"two port sets and families", []corev1.EndpointSubset{
			{Addresses: addrs("192.168.3.215", "fd00::1"), Ports: httpPort(8080)},
			{Addresses: addrs("192.168.3.217"), Ports: httpPort(9090)},
		}, []string{
			"IPv4 ports=[http/TCP/8080] eps=[192.168.3.215,ready]",
			"IPv4 ports=[http/TCP/9090] eps=[192.168.3.217,ready]",
			"IPv6 ports=[http/TCP/8080] eps=[fd00::1,ready]",
		}},
		{"back to one", []corev1.EndpointSubset{{Addresses: addrs("192.168.3.215"), Ports: httpPort(80)}},
			[]string{"IPv4 ports=[http/TCP/80] eps=[192.168.3.215,ready]"}},
		{"no addresses", nil, nil},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			updateEndpoints(t, e, handEndpoints(name, st.subsets...))
			waitSlices(t, e, name, st.want)
		})
	}
	t.Run("recreated with generateName", func(t *testing.T) {
		updateEndpoints(t, e, handEndpoints(name, corev1.EndpointSubset{Addresses: addrs("192.168.3.215"), Ports: httpPort(80)}))
		waitSlices(t, e, name, []string{"IPv4 ports=[http/TCP/80] eps=[192.168.3.215,ready]"})
		if got := listSlices(t, e, name)[0].Name; !strings.HasPrefix(got, name+"-") {
			t.Errorf("got slice name %q, want prefix %q", got, name+"-")
		}
	})
	t.Run("endpoints deleted", func(t *testing.T) {
		if err := e.client.CoreV1().Endpoints(testNS).Delete(e.ctx, name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		waitSlices(t, e, name, nil)
	})
}

// TestUpdateKeepsSlice: an edit rewrites the existing slice in place.
func TestUpdateKeepsSlice(t *testing.T) {
	e := newEnv(t, true, 0, selectorless("svc"), handEndpoints("svc", corev1.EndpointSubset{Addresses: addrs("10.9.0.1"), Ports: httpPort(80)}))
	waitSlices(t, e, "svc", []string{"IPv4 ports=[http/TCP/80] eps=[10.9.0.1,ready]"})
	before := listSlices(t, e, "svc")[0].Name
	updateEndpoints(t, e, handEndpoints("svc", corev1.EndpointSubset{Addresses: addrs("10.9.0.2"), Ports: httpPort(81)}))
	waitSlices(t, e, "svc", []string{"IPv4 ports=[http/TCP/81] eps=[10.9.0.2,ready]"})
	if got := listSlices(t, e, "svc")[0].Name; got != before {
		t.Errorf("got slice %q, want %q reused", got, before)
	}
}

// TestSliceMetadata checks labels, annotations, owner and name of a
// mirrored slice.
func TestSliceMetadata(t *testing.T) {
	ep := handEndpoints("svc", corev1.EndpointSubset{Addresses: addrs("10.9.0.1"), Ports: httpPort(80)})
	ep.Labels = map[string]string{"team": "a", discovery.LabelManagedBy: "someone"}
	ep.Annotations = map[string]string{
		"note":                                "x",
		corev1.EndpointsLastChangeTriggerTime: "2024-01-01T00:00:00Z",
		corev1.LastAppliedConfigAnnotation:    "{}",
	}
	e := newEnv(t, true, 0, selectorless("svc"), ep)
	waitSlices(t, e, "svc", []string{"IPv4 ports=[http/TCP/80] eps=[10.9.0.1,ready]"})
	s := listSlices(t, e, "svc")[0]
	got := metav1.ObjectMeta{GenerateName: s.GenerateName, Labels: s.Labels, Annotations: s.Annotations, OwnerReferences: s.OwnerReferences}
	want := metav1.ObjectMeta{
		GenerateName: "svc-",
		Labels: map[string]string{"team": "a", discovery.LabelManagedBy: ControllerName,
			discovery.LabelServiceName: "svc"},
		Annotations: map[string]string{"note": "x"},
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "Endpoints", Name: "svc",
			UID: types.UID("ep-svc"), Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("metadata (-want +got):\n%s", diff)
	}

	// A label change on the Endpoints alone is mirrored too.
	ep.Labels = map[string]string{"team": "b"}
	updateEndpoints(t, e, ep)
	waitFor(t, "labels", func() string {
		return cmp.Diff(map[string]string{"team": "b", discovery.LabelManagedBy: ControllerName,
			discovery.LabelServiceName: "svc"}, listSlices(t, e, "svc")[0].Labels)
	})
}

// TestNotMirrored: skip-mirror Endpoints, leader-election records,
// selector Services and Endpoints without a Service get no slices, and
// slices go when one of these becomes true.
func TestNotMirrored(t *testing.T) {
	subset := corev1.EndpointSubset{Addresses: addrs("10.9.0.1"), Ports: httpPort(80)}
	mirrored := []string{"IPv4 ports=[http/TCP/80] eps=[10.9.0.1,ready]"}
	tests := []struct {
		name   string
		objs   func() []runtime.Object
		change func(t *testing.T, e *env)
	}{
		{
			name: "skip-mirror label",
			objs: func() []runtime.Object { return []runtime.Object{selectorless("svc")} },
			change: func(t *testing.T, e *env) {
				ep := handEndpoints("svc", subset)
				ep.Labels = map[string]string{discovery.LabelSkipMirror: "true"}
				updateEndpoints(t, e, ep)
			},
		},
		{
			name: "leader election record",
			objs: func() []runtime.Object { return []runtime.Object{selectorless("svc")} },
			change: func(t *testing.T, e *env) {
				ep := handEndpoints("svc", subset)
				ep.Annotations = map[string]string{"control-plane.alpha.kubernetes.io/leader": "{}"}
				updateEndpoints(t, e, ep)
			},
		},
		{
			name: "service gets a selector",
			objs: func() []runtime.Object { return []runtime.Object{selectorless("svc")} },
			change: func(t *testing.T, e *env) {
				svc := selectorless("svc")
				svc.Spec.Selector = map[string]string{"app": "web"}
				if _, err := e.client.CoreV1().Services(testNS).Update(e.ctx, svc, metav1.UpdateOptions{}); err != nil {
					t.Fatal(err)
				}
			},
		},
		{
			name: "service deleted",
			objs: func() []runtime.Object { return []runtime.Object{selectorless("svc")} },
			change: func(t *testing.T, e *env) {
				if err := e.client.CoreV1().Services(testNS).Delete(e.ctx, "svc", metav1.DeleteOptions{}); err != nil {
					t.Fatal(err)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, true, 0, append(tc.objs(), handEndpoints("svc", subset))...)
			waitSlices(t, e, "svc", mirrored)
			tc.change(t, e)
			waitSlices(t, e, "svc", nil)
		})
	}
}

// TestNotMirroredFromStart: objects never mirrored, checked with a direct
// sync that must write nothing.
func TestNotMirroredFromStart(t *testing.T) {
	subset := corev1.EndpointSubset{Addresses: addrs("10.9.0.1"), Ports: httpPort(80)}
	skip := handEndpoints("kubernetes", subset)
	skip.Labels = map[string]string{discovery.LabelSkipMirror: "true"}
	withSelector := selectorless("web")
	withSelector.Spec.Selector = map[string]string{"app": "web"}
	e := newEnv(t, false, 0, selectorless("kubernetes"), skip, withSelector, handEndpoints("web", subset),
		handEndpoints("no-service", subset))
	for _, key := range []string{"ns/kubernetes", "ns/web", "ns/no-service"} {
		if err := e.ctrl.sync(e.ctx, key); err != nil {
			t.Fatalf("sync %s: %v", key, err)
		}
	}
	if got := sliceWrites(e); len(got) != 0 {
		t.Errorf("got writes %v, want none", got)
	}
	// A Service created later starts the mirroring.
	if _, err := e.client.CoreV1().Services(testNS).Create(e.ctx, selectorless("no-service"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "service in cache", func() string {
		if _, err := e.ctrl.services.Services(testNS).Get("no-service"); err != nil {
			return err.Error()
		}
		return ""
	})
	if err := e.ctrl.sync(e.ctx, "ns/no-service"); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"IPv4 ports=[http/TCP/80] eps=[10.9.0.1,ready]"}, summarize(listSlices(t, e, "no-service"))); diff != "" {
		t.Errorf("slices (-want +got):\n%s", diff)
	}
}

func sliceWrites(e *env) []string {
	var out []string
	for _, a := range e.client.Actions() {
		if a.GetResource().Resource == "endpointslices" && a.GetVerb() != "list" && a.GetVerb() != "watch" && a.GetVerb() != "get" {
			out = append(out, a.GetVerb())
		}
	}
	return out
}

// TestNoOpSync: once mirrored, syncing again writes nothing.
func TestNoOpSync(t *testing.T) {
	e := newEnv(t, false, 0, selectorless("svc"), handEndpoints("svc",
		corev1.EndpointSubset{Addresses: addrs("10.9.0.2", "10.9.0.1"), NotReadyAddresses: addrs("10.9.0.3"), Ports: httpPort(80)}))
	if err := e.ctrl.sync(e.ctx, "ns/svc"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "slice in cache", func() string {
		if got, _ := e.ctrl.managedSlices(testNS, "svc"); len(got) != 1 {
			return "slice not cached yet"
		}
		return ""
	})
	before := sliceWrites(e)
	for range 3 {
		if err := e.ctrl.sync(e.ctx, "ns/svc"); err != nil {
			t.Fatal(err)
		}
	}
	if got := sliceWrites(e); len(got) != len(before) || len(before) != 1 {
		t.Errorf("got writes %v, want only the first create", got)
	}
}

// TestAddressLimits: at most MaxEndpointsPerSubset addresses per subset,
// ready ones first; invalid IPs skipped; both reported as events.
func TestAddressLimits(t *testing.T) {
	e := newEnv(t, true, 2, selectorless("svc"), handEndpoints("svc",
		corev1.EndpointSubset{Addresses: addrs("10.9.0.2", "10.9.0.1"), NotReadyAddresses: addrs("10.9.0.3"), Ports: httpPort(80)},
		corev1.EndpointSubset{Addresses: addrs("not-an-ip", "10.9.0.9"), Ports: httpPort(81)},
	))
	waitSlices(t, e, "svc", []string{
		"IPv4 ports=[http/TCP/80] eps=[10.9.0.1,ready 10.9.0.2,ready]",
		"IPv4 ports=[http/TCP/81] eps=[10.9.0.9,ready]",
	})
	want := map[string]bool{
		"Warning InvalidIPAddress Skipped 1 invalid IP addresses when mirroring to EndpointSlices":                                               false,
		"Warning TooManyAddressesToMirror A max of 2 addresses can be mirrored to EndpointSlices per Endpoints subset. 2 addresses were skipped": false,
	}
	waitFor(t, "events", func() string {
		for {
			select {
			case ev := <-e.recorder.Events:
				if _, ok := want[ev]; ok {
					want[ev] = true
				}
				continue
			default:
			}
			break
		}
		for ev, seen := range want {
			if !seen {
				return "missing event " + ev
			}
		}
		return ""
	})
}

// TestSliceDeletedComesBack: a mirrored slice deleted by someone else is
// recreated.
func TestSliceDeletedComesBack(t *testing.T) {
	e := newEnv(t, true, 0, selectorless("svc"), handEndpoints("svc", corev1.EndpointSubset{Addresses: addrs("10.9.0.1"), Ports: httpPort(80)}))
	want := []string{"IPv4 ports=[http/TCP/80] eps=[10.9.0.1,ready]"}
	waitSlices(t, e, "svc", want)
	name := listSlices(t, e, "svc")[0].Name
	if err := e.client.DiscoveryV1().EndpointSlices(testNS).Delete(e.ctx, name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "recreated", func() string {
		got := listSlices(t, e, "svc")
		if len(got) != 1 || got[0].Name == name {
			return "not recreated yet"
		}
		return cmp.Diff(want, summarize(got))
	})
}

func TestRecycle(t *testing.T) {
	ep := handEndpoints("svc", corev1.EndpointSubset{Addresses: addrs("10.9.0.1"), Ports: httpPort(81)})
	old := newSlice(ep, &group{addressType: discovery.AddressTypeIPv4, ports: slicePorts(httpPort(80))}, "svc-old")
	p := compute(ep, desired(ep, 1000), []*discovery.EndpointSlice{old})
	if len(p.create) != 0 || len(p.delete) != 0 || len(p.update) != 1 || p.update[0].Name != "svc-old" {
		t.Errorf("got %d creates, %d updates, %d deletes; want the old slice updated", len(p.create), len(p.update), len(p.delete))
	}
}

package proxy

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "k8s.io/api/core/v1"
	discovery "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/svcnet/svcnet/internal/proxy/healthcheck"
)

func ep(ip, node string, ready, serving, terminating bool, zones ...string) Endpoint {
	return Endpoint{IP: ip, Port: 80, Ready: ready, Serving: serving, Terminating: terminating,
		NodeName: node, IsLocal: node == "a", ZoneHints: zones}
}

func ips(eps []Endpoint) []string {
	var out []string
	for _, e := range eps {
		out = append(out, e.IP)
	}
	return out
}

func TestCategorizeEndpoints(t *testing.T) {
	node := NodeInfo{Name: "a", Zone: "z1"}
	tests := []struct {
		name        string
		sp          ServicePort
		eps         []Endpoint
		wantCluster []string
		wantLocal   []string
		wantAny     bool
	}{
		{"ready only", ServicePort{}, []Endpoint{ep("1.0.0.1", "a", true, true, false), ep("1.0.0.2", "b", false, false, false)},
			[]string{"1.0.0.1"}, nil, true},
		{"terminating fallback", ServicePort{}, []Endpoint{ep("1.0.0.1", "a", false, true, true), ep("1.0.0.2", "b", false, false, true)},
			[]string{"1.0.0.1"}, nil, true},
		{"none", ServicePort{}, []Endpoint{ep("1.0.0.2", "b", false, false, false)}, nil, nil, false},
		{"internal local", ServicePort{InternalPolicyLocal: true}, []Endpoint{ep("1.0.0.1", "a", true, true, false), ep("1.0.0.2", "b", true, true, false)},
			nil, []string{"1.0.0.1"}, true},
		{"internal local, only remote", ServicePort{InternalPolicyLocal: true}, []Endpoint{ep("1.0.0.2", "b", true, true, false)},
			nil, nil, true},
		{"external local", ServicePort{NodePort: 30000, ExternalPolicyLocal: true}, []Endpoint{ep("1.0.0.1", "a", true, true, false), ep("1.0.0.2", "b", true, true, false)},
			[]string{"1.0.0.1", "1.0.0.2"}, []string{"1.0.0.1"}, true},
		{"zone hints", ServicePort{TrafficDistribution: v1.ServiceTrafficDistributionPreferClose},
			[]Endpoint{ep("1.0.0.1", "c", true, true, false, "z1"), ep("1.0.0.2", "b", true, true, false, "z2")},
			[]string{"1.0.0.1"}, nil, true},
		{"zone hints missing on one endpoint", ServicePort{TrafficDistribution: v1.ServiceTrafficDistributionPreferSameZone},
			[]Endpoint{ep("1.0.0.1", "c", true, true, false, "z1"), ep("1.0.0.2", "b", true, true, false)},
			[]string{"1.0.0.1", "1.0.0.2"}, nil, true},
		{"no hint for this zone", ServicePort{TrafficDistribution: v1.ServiceTrafficDistributionPreferClose},
			[]Endpoint{ep("1.0.0.1", "c", true, true, false, "z3"), ep("1.0.0.2", "b", true, true, false, "z2")},
			[]string{"1.0.0.1", "1.0.0.2"}, nil, true},
		{"node hints", ServicePort{TrafficDistribution: v1.ServiceTrafficDistributionPreferSameNode},
			[]Endpoint{{IP: "1.0.0.1", Ready: true, NodeHints: []string{"a"}}, {IP: "1.0.0.2", Ready: true, NodeHints: []string{"b"}}},
			[]string{"1.0.0.1"}, nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sel := CategorizeEndpoints(tc.eps, &tc.sp, node)
			if diff := cmp.Diff(tc.wantCluster, ips(sel.Cluster)); diff != "" {
				t.Errorf("cluster endpoints (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantLocal, ips(sel.Local)); diff != "" {
				t.Errorf("local endpoints (-want +got):\n%s", diff)
			}
			if sel.HasAny != tc.wantAny {
				t.Errorf("got HasAny %v, want %v", sel.HasAny, tc.wantAny)
			}
		})
	}
}

func TestBuildService(t *testing.T) {
	timeout := int32(60)
	svc := &v1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "s"},
		Spec: v1.ServiceSpec{
			Type: v1.ServiceTypeLoadBalancer, ClusterIPs: []string{"10.96.0.1"}, ExternalIPs: []string{"1.2.3.4"},
			Ports:                 []v1.ServicePort{{Name: "http", Port: 80, NodePort: 30000, Protocol: v1.ProtocolTCP}},
			SessionAffinity:       v1.ServiceAffinityClientIP,
			SessionAffinityConfig: &v1.SessionAffinityConfig{ClientIP: &v1.ClientIPConfig{TimeoutSeconds: &timeout}},
			ExternalTrafficPolicy: v1.ServiceExternalTrafficPolicyLocal, HealthCheckNodePort: 31000,
			LoadBalancerSourceRanges: []string{" 192.168.1.7/24", "fd00::/8", "10.0.0.0/8", "10.0.0.0/8"},
		},
		Status: v1.ServiceStatus{LoadBalancer: v1.LoadBalancerStatus{Ingress: []v1.LoadBalancerIngress{{IP: "5.6.7.8"}}}},
	}
	name, proto, port, f := "http", v1.ProtocolTCP, int32(8080), false
	slice := &discovery.EndpointSlice{
		AddressType: discovery.AddressTypeIPv4,
		Ports:       []discovery.EndpointPort{{Name: &name, Protocol: &proto, Port: &port}},
		Endpoints: []discovery.Endpoint{
			{Addresses: []string{"10.0.0.2"}, NodeName: ptrTo("a")},
			{Addresses: []string{"10.0.0.1"}, Conditions: discovery.EndpointConditions{Ready: &f}},
		},
	}
	got := BuildService(svc, []*discovery.EndpointSlice{slice}, "a", ServiceOptions{})
	spn := ServicePortName{NamespacedName: types.NamespacedName{Namespace: "ns", Name: "s"}, Port: "http", Protocol: v1.ProtocolTCP}
	want := &Service{
		Ports: []*ServicePort{{Name: spn, ClusterIP: "10.96.0.1", Port: 80, Protocol: v1.ProtocolTCP, NodePort: 30000,
			ExternalIPs: []string{"1.2.3.4"}, LoadBalancerIPs: []string{"5.6.7.8"}, AffinityTimeoutSeconds: 60,
			LoadBalancerSourceRanges: []string{"10.0.0.0/8", "192.168.1.0/24"},
			ExternalPolicyLocal:      true, HealthCheckNodePort: 31000}},
		Endpoints: map[ServicePortName][]Endpoint{spn: {
			{IP: "10.0.0.1", Port: 8080},
			{IP: "10.0.0.2", Port: 8080, Ready: true, Serving: true, NodeName: "a", IsLocal: true},
		}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("BuildService (-want +got):\n%s", diff)
	}
	if got := BuildService(svc, nil, "a", ServiceOptions{RefuseExternalIPs: true}); got.Ports[0].ExternalIPs != nil {
		t.Errorf("got externalIPs %v with RefuseExternalIPs, want none", got.Ports[0].ExternalIPs)
	}
	svc.Spec.ClusterIPs = []string{"None"}
	if got := BuildService(svc, nil, "a", ServiceOptions{}); got != nil {
		t.Errorf("got %+v for a headless service, want nil", got)
	}
}

func ptrTo[T any](v T) *T { return &v }

func TestTrackerChanged(t *testing.T) {
	tr := NewTracker("a", ServiceOptions{})
	svc := &v1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "s"}, Spec: v1.ServiceSpec{ClusterIP: "10.96.0.1", Ports: []v1.ServicePort{{Port: 80}}}}
	tr.SetService(svc)
	snap := tr.Snapshot(false)
	if !snap.State.Full || !snap.State.Changed[types.NamespacedName{Namespace: "ns", Name: "s"}] {
		t.Fatalf("got first snapshot full=%v changed=%v, want full with ns/s", snap.State.Full, snap.State.Changed)
	}
	tr.Synced(snap)
	if pending, _ := tr.Pending(); pending {
		t.Errorf("got pending after sync, want none")
	}
	tr.SetEndpointSlice(&discovery.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "x",
		Labels:      map[string]string{discovery.LabelServiceName: "other"},
		Annotations: map[string]string{v1.EndpointsLastChangeTriggerTime: "2026-01-01T00:00:00Z"}}})
	snap = tr.Snapshot(false)
	if snap.State.Full || len(snap.State.Changed) != 1 || len(snap.TriggerTimes) != 1 {
		t.Errorf("got full=%v changed=%v triggers=%v, want partial with one change and one trigger", snap.State.Full, snap.State.Changed, snap.TriggerTimes)
	}
}

func TestHealthz(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	pending, since := false, time.Time{}
	h := &Health{Timeout: time.Minute, Now: func() time.Time { return now }, Pending: func() (bool, time.Time) { return pending, since }}
	get := func() (int, string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
		return rec.Code, rec.Body.String()
	}
	if code, _ := get(); code != http.StatusServiceUnavailable {
		t.Errorf("got %d before any sync, want 503", code)
	}
	h.Updated(now)
	if code, body := get(); code != http.StatusOK || !strings.Contains(body, `"lastUpdated"`) || !strings.Contains(body, `"currentTime"`) {
		t.Errorf("got %d %s, want 200 with lastUpdated/currentTime", code, body)
	}
	pending, since = true, now.Add(-2*time.Minute)
	if code, _ := get(); code != http.StatusServiceUnavailable {
		t.Errorf("got %d with a stale pending change, want 503", code)
	}
}

// recordingBackend is a Backend that keeps the states it was given.
type recordingBackend struct {
	mu     sync.Mutex
	states []*State
}

func (b *recordingBackend) Sync(_ context.Context, s *State) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.states = append(b.states, s)
	return nil
}

func (b *recordingBackend) last() *State {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.states) == 0 {
		return nil
	}
	return b.states[len(b.states)-1]
}

func TestProxyRun(t *testing.T) {
	client := fake.NewClientset(&v1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "s"},
		Spec: v1.ServiceSpec{ClusterIP: "10.96.0.1", Ports: []v1.ServicePort{{Port: 80}}}})
	factory := informers.NewSharedInformerFactory(client, 0)
	backend := &recordingBackend{}
	p, err := New(Config{Client: client, Informers: factory, NodeName: "a", MinSyncPeriod: -1,
		Backends: map[string]BackendFactory{"nftables": func(BackendConfig) (Backend, error) { return backend, nil }}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	factory.Start(ctx.Done())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	waitFor(t, func() bool { s := backend.last(); return s != nil && len(s.Services) == 1 })
	if _, err := client.CoreV1().Services("ns").Create(ctx, &v1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "t"},
		Spec: v1.ServiceSpec{ClusterIP: "10.96.0.2", Ports: []v1.ServicePort{{Port: 80}}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		s := backend.last()
		return len(s.Services) == 2 && !s.Full && s.Changed[types.NamespacedName{Namespace: "ns", Name: "t"}]
	})
	if ok, _, _ := p.Health().Healthy(); !ok {
		t.Errorf("got unhealthy after syncs, want healthy")
	}
	// A Service labelled for another proxy leaves the rules; without the
	// label it comes back.
	svc, err := client.CoreV1().Services("ns").Get(ctx, "t", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	svc.Labels = map[string]string{LabelServiceProxyName: "other"}
	if _, err := client.CoreV1().Services("ns").Update(ctx, svc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return len(backend.last().Services) == 1 })
	svc.Labels = nil
	if _, err := client.CoreV1().Services("ns").Update(ctx, svc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return len(backend.last().Services) == 2 })

	// An EndpointSlice marked headless loses its endpoints, as under
	// kube-proxy, and gets them back without the label.
	tName := types.NamespacedName{Namespace: "ns", Name: "t"}
	endpoints := func() int {
		s := backend.last().Services[tName]
		if s == nil {
			return -1
		}
		n := 0
		for _, eps := range s.Endpoints {
			n += len(eps)
		}
		return n
	}
	port, proto := int32(8080), v1.ProtocolTCP
	slice := &discovery.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "t-1",
			Labels: map[string]string{discovery.LabelServiceName: "t", discovery.LabelManagedBy: "test"}},
		AddressType: discovery.AddressTypeIPv4,
		Ports:       []discovery.EndpointPort{{Name: ptrTo(""), Protocol: &proto, Port: &port}},
		Endpoints:   []discovery.Endpoint{{Addresses: []string{"10.0.0.7"}, Conditions: discovery.EndpointConditions{Ready: ptrTo(true)}}},
	}
	if _, err := client.DiscoveryV1().EndpointSlices("ns").Create(ctx, slice, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return endpoints() == 1 })
	slice.Labels[LabelHeadless] = ""
	if _, err := client.DiscoveryV1().EndpointSlices("ns").Update(ctx, slice, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return endpoints() == 0 })
	delete(slice.Labels, LabelHeadless)
	if _, err := client.DiscoveryV1().EndpointSlices("ns").Update(ctx, slice, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return endpoints() == 1 })
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within 10s")
		}
		time.Sleep(5 * time.Millisecond) // polling interval, not synchronisation
	}
}

func TestHealthCheckServices(t *testing.T) {
	name := types.NamespacedName{Namespace: "ns", Name: "s"}
	spn := ServicePortName{NamespacedName: name, Port: "http", Protocol: v1.ProtocolTCP}
	spn2 := ServicePortName{NamespacedName: name, Port: "https", Protocol: v1.ProtocolTCP}
	eps := []Endpoint{
		{IP: "10.0.0.1", Port: 80, Ready: true, IsLocal: true},
		{IP: "10.0.0.2", Port: 80, Ready: false, IsLocal: true},
		{IP: "10.0.1.1", Port: 80, Ready: true},
	}
	tests := []struct {
		name  string
		ports []*ServicePort
		want  map[types.NamespacedName]healthcheck.Service
	}{
		{"local policy counts ready local endpoints once over ports",
			[]*ServicePort{{Name: spn, NodePort: 30000, ExternalPolicyLocal: true, HealthCheckNodePort: 32000},
				{Name: spn2, NodePort: 30001, ExternalPolicyLocal: true, HealthCheckNodePort: 32000}},
			map[types.NamespacedName]healthcheck.Service{name: {Port: 32000, LocalEndpoints: 1}}},
		{"cluster policy has no health check", []*ServicePort{{Name: spn, NodePort: 30000}},
			map[types.NamespacedName]healthcheck.Service{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			state := &State{Services: map[types.NamespacedName]*Service{name: {Ports: tc.ports,
				Endpoints: map[ServicePortName][]Endpoint{spn: eps, spn2: eps}}}}
			if diff := cmp.Diff(tc.want, HealthCheckServices(state)); diff != "" {
				t.Errorf("HealthCheckServices (-want +got):\n%s", diff)
			}
		})
	}
}

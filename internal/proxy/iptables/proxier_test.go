package iptables

import (
	"context"
	"errors"
	"flag"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "k8s.io/api/core/v1"
	discovery "k8s.io/api/discovery/v1"

	"github.com/svcnet/svcnet/internal/proxy"
	pt "github.com/svcnet/svcnet/internal/proxy/proxytest"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

func testConfig() proxy.BackendConfig {
	return proxy.BackendConfig{
		NodeName:     pt.NodeName,
		ClusterCIDR:  pt.ClusterCIDR,
		ServiceCIDRs: []string{pt.ServiceCIDR},
		DropInvalid:  true,
	}
}

func newFakeProxier(t *testing.T, cfg proxy.BackendConfig) (*Proxier, *Fake) {
	t.Helper()
	fake := NewFake()
	p, err := New(Config{BackendConfig: cfg, Runner: fake})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return p, fake
}

func syncState(t *testing.T, p *Proxier, st *proxy.State) {
	t.Helper()
	if err := p.Sync(context.Background(), st); err != nil {
		t.Fatalf("Sync: %v", err)
	}
}

// sourceRanges is a LoadBalancer Service with loadBalancerSourceRanges.
func sourceRanges() pt.Scenario {
	return pt.Scenario{
		Services: []*v1.Service{pt.Service("ns5", "fw", "10.96.0.60", []int32{80}, func(s *v1.Service) {
			s.Spec.Type = v1.ServiceTypeLoadBalancer
			s.Spec.Ports[0].NodePort = 30060
			s.Spec.LoadBalancerSourceRanges = []string{"203.0.113.0/24", "10.244.0.0/16"}
			s.Status.LoadBalancer.Ingress = []v1.LoadBalancerIngress{{IP: "198.51.100.60"}}
		}), pt.Service("ns5", "fwnone", "10.96.0.61", []int32{80}, func(s *v1.Service) {
			s.Spec.Type = v1.ServiceTypeLoadBalancer
			s.Spec.Ports[0].NodePort = 30061
			s.Spec.LoadBalancerSourceRanges = []string{"203.0.113.0/24"}
			s.Status.LoadBalancer.Ingress = []v1.LoadBalancerIngress{{IP: "198.51.100.61"}}
		})},
		Slices: []*discovery.EndpointSlice{
			pt.Slice("ns5", "fw", "fw-1", []pt.SlicePort{{Name: "p80", Port: 8080}}, pt.EP{IP: "10.244.1.60", Node: "node-b"}),
		},
		Cases: []pt.Case{
			{Name: "allowed source to LB IP", Packet: tcp("203.0.113.7", "198.51.100.60", 80),
				Want: pt.Outcome{Verdict: pt.DNAT, Endpoints: []string{"10.244.1.60:8080"}, Masquerade: true}},
			{Name: "allowed pod to LB IP", Packet: tcp(pt.LocalPod, "198.51.100.60", 80),
				Want: pt.Outcome{Verdict: pt.DNAT, Endpoints: []string{"10.244.1.60:8080"}}},
			{Name: "other source to LB IP is dropped", Packet: tcp("192.0.2.1", "198.51.100.60", 80), Want: pt.Outcome{Verdict: pt.Drop}},
			{Name: "other source to node port is not firewalled", Packet: tcp("192.0.2.1", pt.NodeIP, 30060),
				Want: pt.Outcome{Verdict: pt.DNAT, Endpoints: []string{"10.244.1.60:8080"}, Masquerade: true}},
			{Name: "other source to cluster IP is not firewalled", Packet: tcp(pt.LocalPod, "10.96.0.60", 80),
				Want: pt.Outcome{Verdict: pt.DNAT, Endpoints: []string{"10.244.1.60:8080"}}},
			{Name: "other source to LB IP without endpoints is dropped", Packet: tcp("192.0.2.1", "198.51.100.61", 80), Want: pt.Outcome{Verdict: pt.Drop}},
			{Name: "allowed source to LB IP without endpoints is rejected", Packet: tcp("203.0.113.7", "198.51.100.61", 80), Want: pt.Outcome{Verdict: pt.Reject}},
		},
	}
}

// localPolicy checks kube-proxy's iptables behaviour for
// externalTrafficPolicy Local without a local endpoint: pods and the node
// itself still reach the cluster endpoints, other sources are dropped.
func localPolicy() pt.Scenario {
	s := pt.Flows()
	ep := []string{"10.244.1.16:8080"}
	s.Cases = []pt.Case{
		{Name: "pod to node port", Packet: tcp(pt.LocalPod, pt.NodeIP, 30082), Want: pt.Outcome{Verdict: pt.DNAT, Endpoints: ep}},
		{Name: "host to node port is masqueraded", Packet: tcp(pt.NodeIP, pt.NodeIP, 30082), Want: pt.Outcome{Verdict: pt.DNAT, Endpoints: ep, Masquerade: true}},
		{Name: "off-cluster to node port", Packet: tcp(pt.OffCluster, pt.NodeIP, 30082), Want: pt.Outcome{Verdict: pt.Drop}},
		{Name: "host to node port with local endpoint", Packet: tcp(pt.NodeIP, pt.NodeIP, 30081),
			Want: pt.Outcome{Verdict: pt.DNAT, Endpoints: []string{"10.244.0.6:8080", "10.244.1.6:8080"}, Masquerade: true}},
	}
	return s
}

func tcp(src, dst string, port int) pt.Packet {
	return pt.Packet{SrcIP: src, DstIP: dst, DstPort: port, Protocol: v1.ProtocolTCP}
}

func TestGolden(t *testing.T) {
	small := pt.Scenario{
		Services: []*v1.Service{pt.Service("ns", "np", "10.96.0.20", []int32{80}, func(s *v1.Service) {
			s.Spec.Type = v1.ServiceTypeNodePort
			s.Spec.Ports[0].NodePort = 30080
			s.Spec.SessionAffinity = v1.ServiceAffinityClientIP
		})},
		Slices: []*discovery.EndpointSlice{pt.Slice("ns", "np", "np-1", []pt.SlicePort{{Name: "p80", Port: 8080}},
			pt.EP{IP: "10.244.0.5", Node: pt.NodeName}, pt.EP{IP: "10.244.1.5", Node: "node-b"})},
	}
	tests := []struct {
		name     string
		cfg      proxy.BackendConfig
		scenario pt.Scenario
	}{
		{name: "empty", cfg: testConfig()},
		{name: "flows", cfg: testConfig(), scenario: pt.Flows()},
		{name: "source-ranges", cfg: testConfig(), scenario: sourceRanges()},
		{name: "health-check", cfg: testConfig(), scenario: pt.Scenario{
			Services: []*v1.Service{pt.Service("ns", "lblocal", "10.96.0.70", []int32{80, 443}, func(s *v1.Service) {
				s.Spec.Type = v1.ServiceTypeLoadBalancer
				s.Spec.ExternalTrafficPolicy = v1.ServiceExternalTrafficPolicyLocal
				s.Spec.HealthCheckNodePort = 32000
				s.Spec.Ports[0].NodePort = 30070
				s.Spec.Ports[1].NodePort = 30071
				s.Status.LoadBalancer.Ingress = []v1.LoadBalancerIngress{{IP: "198.51.100.70"}}
			})},
			Slices: []*discovery.EndpointSlice{pt.Slice("ns", "lblocal", "lblocal-1",
				[]pt.SlicePort{{Name: "p80", Port: 8080}, {Name: "p443", Port: 8443}},
				pt.EP{IP: "10.244.0.70", Node: pt.NodeName}, pt.EP{IP: "10.244.1.70", Node: "node-b"})},
		}},
		{name: "masquerade-all", cfg: proxy.BackendConfig{NodeName: pt.NodeName, MasqueradeAll: true,
			NodePortAddresses: []string{"192.168.0.0/24"}}, scenario: small},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, fake := newFakeProxier(t, tc.cfg)
			syncState(t, p, tc.scenario.State(proxy.ServiceOptions{}))
			pt.CheckGolden(t, tc.name, string(fake.LastRestore()), *update)
		})
	}
}

func TestPacketFlows(t *testing.T) {
	tests := []struct {
		name     string
		scenario pt.Scenario
	}{
		{"shared flows", pt.Flows()},
		{"source ranges", sourceRanges()},
		{"local policy short-circuits", localPolicy()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, fake := newFakeProxier(t, testConfig())
			syncState(t, p, tc.scenario.State(proxy.ServiceOptions{}))
			tc.scenario.Run(t, &tracer{fake: fake, nodeIPs: []string{pt.NodeIP}})
		})
	}
}

// TestPartialSync applies a series of changes with partial syncs and checks
// after each that (a) only chains of the changed Service and top-level
// chains were written and (b) the tables equal a fresh full sync.
func TestPartialSync(t *testing.T) {
	s := pt.Flows()
	tr := s.Tracker(proxy.ServiceOptions{})
	p, fake := newFakeProxier(t, testConfig())
	snap := tr.Snapshot(false)
	syncState(t, p, snap.State)
	tr.Synced(snap)
	allChains := func() map[string]bool {
		out := map[string]bool{}
		for _, r := range p.committed {
			for c := range r.chains {
				out[c] = true
			}
		}
		return out
	}
	web := s.Services[0].DeepCopy()
	steps := []struct {
		name   string
		change func()
	}{
		{"endpoint removed", func() {
			tr.SetEndpointSlice(pt.Slice("ns1", "web", "web-1", []pt.SlicePort{{Name: "p80", Port: 8080}}, pt.EP{IP: "10.244.1.5", Node: "node-b"}))
		}},
		{"affinity on", func() {
			web.Spec.SessionAffinity = v1.ServiceAffinityClientIP
			tr.SetService(web.DeepCopy())
		}},
		{"affinity timeout changed", func() {
			web.Spec.SessionAffinityConfig = &v1.SessionAffinityConfig{ClientIP: &v1.ClientIPConfig{TimeoutSeconds: ptr(int32(60))}}
			tr.SetService(web.DeepCopy())
		}},
		{"affinity off", func() {
			web.Spec.SessionAffinity = v1.ServiceAffinityNone
			web.Spec.SessionAffinityConfig = nil
			tr.SetService(web.DeepCopy())
		}},
		{"all endpoints gone", func() { tr.DeleteEndpointSlice(pt.Slice("ns1", "web", "web-1", nil)) }},
		{"endpoints back", func() { tr.SetEndpointSlice(s.Slices[0]) }},
		{"node port added", func() {
			web.Spec.Type = v1.ServiceTypeNodePort
			web.Spec.Ports[0].NodePort = 30099
			tr.SetService(web.DeepCopy())
		}},
		{"service deleted", func() { tr.DeleteService("ns1", "web") }},
		{"service added", func() {
			tr.SetService(pt.Service("ns9", "new", "10.96.9.9", []int32{80}))
			tr.SetEndpointSlice(pt.Slice("ns9", "new", "new-1", []pt.SlicePort{{Name: "p80", Port: 8080}}, pt.EP{IP: "10.244.9.9"}))
		}},
	}
	for _, step := range steps {
		t.Run(step.name, func(t *testing.T) {
			before := allChains()
			step.change()
			snap := tr.Snapshot(false)
			if snap.State.Full {
				t.Fatalf("got full sync, want partial")
			}
			syncState(t, p, snap.State)
			tr.Synced(snap)
			after := allChains()
			// Chains of Services that did not change must not be written.
			changed := map[string]bool{}
			for name := range snap.State.Changed {
				if svc := snap.State.Services[name]; svc != nil {
					for c := range p.buildService(svc, snap.State.Node).chains {
						changed[c] = true
					}
				}
			}
			for _, line := range strings.Split(string(fake.LastRestore()), "\n") {
				f := strings.Fields(line)
				if len(f) < 2 || (f[0] != "-A" && f[0] != "-X") || !isServiceChain(f[1]) {
					continue
				}
				if f[0] == "-A" && !changed[f[1]] {
					t.Errorf("partial sync rewrote chain %s of an unchanged Service", f[1])
				}
				if f[0] == "-X" && (!before[f[1]] || after[f[1]]) {
					t.Errorf("partial sync deleted chain %s, which was not dropped", f[1])
				}
			}
			fresh, freshFake := newFakeProxier(t, testConfig())
			syncState(t, fresh, tr.Snapshot(true).State)
			if diff := cmp.Diff(freshFake.Dump(), fake.Dump()); diff != "" {
				t.Errorf("partial result differs from a full sync (-full +partial):\n%s", diff)
			}
		})
	}
}

func TestNoChangeWritesNothing(t *testing.T) {
	p, fake := newFakeProxier(t, testConfig())
	st := pt.Flows().State(proxy.ServiceOptions{})
	syncState(t, p, st)
	if err := fake.Restore(context.Background(), []byte("*nat\n:MARKER - [0:0]\nCOMMIT\n")); err != nil {
		t.Fatal(err)
	}
	st.Full, st.Changed = false, nil
	syncState(t, p, st)
	if got := string(fake.LastRestore()); !strings.Contains(got, "MARKER") {
		t.Errorf("got restore %q for an unchanged state, want none", got)
	}
}

func TestFullSyncDeletesLeftovers(t *testing.T) {
	p, fake := newFakeProxier(t, testConfig())
	old := "*nat\n:KUBE-SVC-OLDOLDOLDOLDOLDO - [0:0]\n:KUBE-SEP-OLDOLDOLDOLDOLDO - [0:0]\n:OTHER-CHAIN - [0:0]\n" +
		"-A KUBE-SVC-OLDOLDOLDOLDOLDO -j KUBE-SEP-OLDOLDOLDOLDOLDO\n" +
		"-A KUBE-SEP-OLDOLDOLDOLDOLDO -j DNAT --to-destination 10.1.1.1:80\nCOMMIT\n"
	if err := fake.Restore(context.Background(), []byte(old)); err != nil {
		t.Fatal(err)
	}
	syncState(t, p, pt.Flows().State(proxy.ServiceOptions{}))
	dump := fake.Dump()
	if strings.Contains(dump, "OLDOLD") {
		t.Errorf("got leftover chains after full sync:\n%s", dump)
	}
	if !strings.Contains(dump, ":OTHER-CHAIN") {
		t.Errorf("got foreign chain OTHER-CHAIN deleted, want it kept")
	}
}

func TestHooksAndCleanup(t *testing.T) {
	p, fake := newFakeProxier(t, testConfig())
	st := pt.Flows().State(proxy.ServiceOptions{})
	syncState(t, p, st)
	syncState(t, p, st) // hooks must not be duplicated
	for _, tc := range []struct{ table, chain string }{
		{tableNAT, "PREROUTING"}, {tableNAT, "OUTPUT"}, {tableNAT, "POSTROUTING"},
		{tableFilter, "INPUT"}, {tableFilter, "FORWARD"}, {tableFilter, "OUTPUT"},
	} {
		var want []string
		for _, h := range hooks {
			if h.table == tc.table && h.chain == tc.chain {
				want = append(want, rule(h.ruleArgs()...))
			}
		}
		got, _ := fake.Rules(tc.table, tc.chain)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s %s hooks (-want +got):\n%s", tc.table, tc.chain, diff)
		}
	}
	if err := p.Cleanup(context.Background()); err != nil {
		t.Fatalf("Cleanup: %v", err)
	}
	if dump := fake.Dump(); strings.Contains(dump, "KUBE-") || strings.Contains(dump, hookComment) {
		t.Errorf("got rules left after Cleanup:\n%s", dump)
	}
}

func TestNoEndpointsAndRefuseExternalIPs(t *testing.T) {
	p, fake := newFakeProxier(t, testConfig())
	syncState(t, p, pt.Flows().State(proxy.ServiceOptions{RefuseExternalIPs: true}))
	tr := &tracer{fake: fake, nodeIPs: []string{pt.NodeIP}}
	got := pt.Combine(t, tr.Trace(t, tcp(pt.OffCluster, "198.51.100.10", 80)))
	if got.Verdict != pt.Forward {
		t.Errorf("got %+v for a refused external IP, want it forwarded untouched", got)
	}
}

// failingRunner fails the next Restore when fail is set.
type failingRunner struct {
	*Fake
	fail bool
}

func (r *failingRunner) Restore(ctx context.Context, data []byte) error {
	if r.fail {
		r.fail = false
		return errors.New("injected failure")
	}
	return r.Fake.Restore(ctx, data)
}

func TestRestoreErrorForcesFullSync(t *testing.T) {
	runner := &failingRunner{Fake: NewFake()}
	p, err := New(Config{BackendConfig: testConfig(), Runner: runner})
	if err != nil {
		t.Fatal(err)
	}
	st := pt.Flows().State(proxy.ServiceOptions{})
	syncState(t, p, st)
	st.Full = false
	runner.fail = true
	if err := p.Sync(context.Background(), st); err == nil {
		t.Fatalf("got no error from a failed restore, want one")
	}
	syncState(t, p, st) // state.Full is false, but the proxier lost track
	if !strings.Contains(string(runner.LastRestore()), "-A "+prefixSEP) {
		t.Errorf("got a sync without endpoint chains after a failure, want a full rewrite")
	}
}

func TestFactoryMissingBinaries(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := Factory(testConfig())
	if err == nil || !strings.Contains(err.Error(), "iptables") || !strings.Contains(err.Error(), "not found") {
		t.Errorf("got error %v, want one naming the missing iptables binary", err)
	}
}

func TestSplitRule(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{`-m comment --comment "ns/a:p has no endpoints" -j DROP`, []string{"-m", "comment", "--comment", "ns/a:p has no endpoints", "-j", "DROP"}},
		{rule("-s", "1.2.3.4", "--comment", `a "b"`), []string{"-s", "1.2.3.4", "--comment", `a "b"`}},
	} {
		got, err := splitRule(tc.in)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("splitRule(%q): got %q, want %q", tc.in, got, tc.want)
		}
	}
}

func ptr[T any](v T) *T { return &v }

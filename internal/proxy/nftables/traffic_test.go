package nftables

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	discovery "k8s.io/api/discovery/v1"

	"github.com/svcnet/svcnet/internal/proxy"
	"github.com/svcnet/svcnet/internal/proxy/conntrack"
	pt "github.com/svcnet/svcnet/internal/proxy/proxytest"
)

// TestRealTraffic programs real nft rules and sends real traffic through
// them to a server in a pod namespace. It runs only as root inside the
// throw-away namespace made by hack/netns-run.sh.
func TestRealTraffic(t *testing.T) {
	pt.RequireNetns(t)
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("nft not installed")
	}
	pod := pt.NewPod(t, pt.PodConfig{Name: "pod-a", HostVeth: "svcnft0", HostAddr: "10.246.0.1/24", PodAddr: "10.246.0.2/24"})
	podB := pt.NewPod(t, pt.PodConfig{Name: "pod-b", HostVeth: "svcnft1", HostAddr: "10.246.1.1/24", PodAddr: "10.246.1.2/24"})
	for _, p := range []*pt.Pod{pod, podB} {
		p.ServeTCP(t, 8080)
		p.ServeUDP(t, 5353)
	}
	podB.ServeTCP(t, 8081)
	pt.AddAddr(t, "lo", "192.168.0.2/32")
	pt.AddRoute(t, "10.96.0.0/16", "svcnft0")
	// Pod-originated (hairpin) traffic is routed through this namespace.
	if err := os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1"), 0o644); err != nil {
		t.Fatalf("enable forwarding: %v", err)
	}

	udp := func(s *v1.Service) {
		s.Spec.Ports = []v1.ServicePort{{Name: "dns", Port: 53, Protocol: v1.ProtocolUDP}}
	}
	services := []*v1.Service{
		pt.Service("ns", "web", "10.96.0.50", []int32{80}),
		pt.Service("ns", "np", "10.96.0.51", []int32{80}, func(s *v1.Service) {
			s.Spec.Type = v1.ServiceTypeNodePort
			s.Spec.Ports[0].NodePort = 30090
		}),
		pt.Service("ns", "noeps", "10.96.0.52", []int32{80}),
		pt.Service("ns", "dns", "10.96.0.53", nil, udp),
		pt.Service("ns", "spread", "10.96.0.54", []int32{80}),
		pt.Service("ns", "sticky", "10.96.0.55", []int32{80}, func(s *v1.Service) {
			s.Spec.SessionAffinity = v1.ServiceAffinityClientIP
		}),
	}
	ep := pt.EP{IP: pod.IP, Node: pt.NodeName}
	epB := pt.EP{IP: podB.IP, Node: "node-b"}
	slices := []*discovery.EndpointSlice{
		pt.Slice("ns", "web", "web-1", []pt.SlicePort{{Name: "p80", Port: 8080}}, ep),
		pt.Slice("ns", "np", "np-1", []pt.SlicePort{{Name: "p80", Port: 8080}}, ep),
		pt.Slice("ns", "dns", "dns-1", []pt.SlicePort{{Name: "dns", Port: 5353, Protocol: v1.ProtocolUDP}}, ep),
		pt.Slice("ns", "spread", "spread-1", []pt.SlicePort{{Name: "p80", Port: 8080}}, ep, epB),
		pt.Slice("ns", "sticky", "sticky-1", []pt.SlicePort{{Name: "p80", Port: 8080}}, ep, epB),
	}
	p, err := New(Config{BackendConfig: proxy.BackendConfig{
		NodeName: pt.NodeName, ClusterCIDR: "10.246.0.0/16", ServiceCIDRs: []string{"10.96.0.0/16"},
	}})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = exec.Command("nft", "delete", "table", "inet", tableName).Run() })
	tr := pt.Scenario{Services: services, Slices: slices}.Tracker(proxy.ServiceOptions{})
	sync := func(full bool) {
		t.Helper()
		snap := tr.Snapshot(full)
		if err := p.Sync(t.Context(), snap.State); err != nil {
			t.Fatalf("Sync(full=%v): %v", full, err)
		}
		tr.Synced(snap)
	}
	sync(true)

	tests := []struct {
		name  string
		check func(t *testing.T)
	}{
		{"cluster IP tcp", func(t *testing.T) { pt.DialTCP(t, "10.96.0.50:80", "pod-a") }},
		{"cluster IP udp", func(t *testing.T) { pt.DialUDP(t, "10.96.0.53:53", "pod-a") }},
		{"node port on node IP", func(t *testing.T) { pt.DialTCP(t, "192.168.0.2:30090", "pod-a") }},
		{"node port on pod-network address", func(t *testing.T) { pt.DialTCP(t, "10.246.0.1:30090", "pod-a") }},
		{"no endpoints is refused", func(t *testing.T) { pt.DialRefused(t, "10.96.0.52:80", 2*time.Second) }},
		{"wrong port of cluster IP is refused", func(t *testing.T) { pt.DialRefused(t, "10.96.0.50:81", 2*time.Second) }},
		{"pod reached directly", func(t *testing.T) { pt.DialTCP(t, "10.246.0.2:8080", "pod-a") }},
		{"spread over both endpoints", func(t *testing.T) { pt.CheckSpread(t, "10.96.0.54:80", "pod-a", "pod-b") }},
		{"client IP affinity", func(t *testing.T) { pt.CheckSticky(t, "10.96.0.55:80") }},
		{"hairpin from the endpoint itself", func(t *testing.T) { pt.CheckHairpin(t, pod, "10.96.0.50:80") }},
		{"partial sync moves a Service to other endpoints", func(t *testing.T) {
			// spread moves from two endpoints to two others: a new key
			// block, a new rule and the old block's elements deleted, in
			// the real kernel. web grows from one endpoint to two.
			tr.SetEndpointSlice(pt.Slice("ns", "spread", "spread-1", []pt.SlicePort{{Name: "p80", Port: 8080}}, epB))
			tr.SetEndpointSlice(pt.Slice("ns", "spread", "spread-2", []pt.SlicePort{{Name: "p80", Port: 8081}}, epB))
			tr.SetEndpointSlice(pt.Slice("ns", "web", "web-1", []pt.SlicePort{{Name: "p80", Port: 8080}}, ep, epB))
			sync(false)
			for i := 0; i < 20; i++ {
				if got := pt.TCPGreeting(t, "10.96.0.54:80"); got != "pod-b" {
					t.Fatalf("connection %d to spread answered by %s, want pod-b only", i, got)
				}
			}
			pt.CheckSpread(t, "10.96.0.50:80", "pod-a", "pod-b")
		}},
		{"hairpin through a Service of two endpoints", func(t *testing.T) {
			// Every connection from pod-a to web must work, whether it
			// reaches pod-b or (masqueraded) pod-a itself.
			seen := map[string]int{}
			err := pod.Do(func() error {
				for i := 0; i < 40 && seen["pod-a"] == 0 || i < 10; i++ {
					got, err := pt.TCPRoundTrip("10.96.0.50:80")
					if err != nil {
						return fmt.Errorf("connection %d: %w", i, err)
					}
					seen[got]++
				}
				return nil
			})
			if err != nil || seen["pod-a"] == 0 {
				t.Errorf("pod-a to web (pod-a, pod-b): got answers %v, %v; want every connection answered, some by pod-a", seen, err)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, tc.check)
	}

	// The conntrack CLI finds the real DNATed UDP entry by its reply source.
	t.Run("stale udp conntrack entry deleted", func(t *testing.T) {
		ct, err := conntrack.New(conntrack.Config{})
		if err != nil {
			t.Skipf("conntrack not installed: %v", err)
		}
		pt.DialUDP(t, "10.96.0.53:53", "pod-a")
		count := func() int {
			out, _ := exec.Command("conntrack", "-L", "-p", "udp", "--orig-dst", "10.96.0.53").Output()
			return strings.Count(string(out), "dport=53")
		}
		if n := count(); n == 0 {
			t.Fatalf("got no conntrack entry for 10.96.0.53:53, want one")
		}
		if err := ct.DeleteUDP(t.Context(), []proxy.StaleFlow{{OrigDst: "10.96.0.53", Port: 53, Endpoint: pod.IP}}); err != nil {
			t.Fatalf("DeleteUDP: %v", err)
		}
		if n := count(); n != 0 {
			t.Errorf("got %d conntrack entries for 10.96.0.53:53 after delete, want 0", n)
		}
	})
}

package userspace

import (
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	discovery "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/svcnet/svcnet/internal/proxy"
	pt "github.com/svcnet/svcnet/internal/proxy/proxytest"
)

// TestRealTraffic forwards real TCP and UDP traffic to servers in two pod
// namespaces. It runs only as root inside the throw-away namespace made by
// hack/netns-run.sh. Addresses and ports differ from the nftables package's
// tests, whose rules may be installed in the same namespace meanwhile.
func TestRealTraffic(t *testing.T) {
	pt.RequireNetns(t)
	podA := pt.NewPod(t, pt.PodConfig{Name: "pod-a", HostVeth: "svcus0", HostAddr: "10.245.0.1/24", PodAddr: "10.245.0.2/24"})
	podB := pt.NewPod(t, pt.PodConfig{Name: "pod-b", HostVeth: "svcus1", HostAddr: "10.245.1.1/24", PodAddr: "10.245.1.2/24"})
	for _, pod := range []*pt.Pod{podA, podB} {
		pod.ServeTCP(t, 8080)
		pod.ServeUDP(t, 5353)
	}
	pt.AddAddr(t, "lo", "192.168.7.2/32")

	p80 := []pt.SlicePort{{Name: "p80", Port: 8080}}
	epA, epB := pt.EP{IP: podA.IP, Node: pt.NodeName}, pt.EP{IP: podB.IP, Node: "node-b"}
	services := []*v1.Service{
		pt.Service("ns", "web", "10.97.0.50", []int32{80}),
		pt.Service("ns", "np", "10.97.0.51", []int32{80}, func(s *v1.Service) {
			s.Spec.Type = v1.ServiceTypeNodePort
			s.Spec.Ports[0].NodePort = 31090
		}),
		pt.Service("ns", "noeps", "10.97.0.52", []int32{80}),
		pt.Service("ns", "dns", "10.97.0.53", nil, func(s *v1.Service) {
			s.Spec.Ports = []v1.ServicePort{{Name: "dns", Port: 53, Protocol: v1.ProtocolUDP}}
		}),
		pt.Service("ns", "sticky", "10.97.0.54", []int32{80}, func(s *v1.Service) {
			s.Spec.SessionAffinity = v1.ServiceAffinityClientIP
		}),
	}
	slices := []*discovery.EndpointSlice{
		pt.Slice("ns", "web", "web-1", p80, epA, epB),
		pt.Slice("ns", "np", "np-1", p80, epB),
		pt.Slice("ns", "dns", "dns-1", []pt.SlicePort{{Name: "dns", Port: 5353, Protocol: v1.ProtocolUDP}}, epA),
		pt.Slice("ns", "sticky", "sticky-1", p80, epA, epB),
	}
	tr := proxy.NewTracker(pt.NodeName, proxy.ServiceOptions{})
	for _, s := range services {
		tr.SetService(s)
	}
	for _, s := range slices {
		tr.SetEndpointSlice(s)
	}
	p, err := New(Config{BackendConfig: proxy.BackendConfig{NodeName: pt.NodeName}, Interface: "lo"})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	sync := func(full bool) {
		t.Helper()
		snap := tr.Snapshot(full)
		if err := p.Sync(t.Context(), snap.State); err != nil {
			t.Fatalf("Sync: %v", err)
		}
		tr.Synced(snap)
	}
	sync(true)

	t.Run("cluster IP round robin", func(t *testing.T) {
		seen := map[string]bool{}
		for range 4 {
			seen[pt.TCPGreeting(t, "10.97.0.50:80")] = true
		}
		if !seen["pod-a"] || !seen["pod-b"] {
			t.Errorf("got greetings %v, want both pods", seen)
		}
	})
	t.Run("session affinity", func(t *testing.T) {
		first := pt.TCPGreeting(t, "10.97.0.54:80")
		for range 3 {
			pt.DialTCP(t, "10.97.0.54:80", first)
		}
	})
	t.Run("udp", func(t *testing.T) { pt.DialUDP(t, "10.97.0.53:53", "pod-a") })
	t.Run("node port", func(t *testing.T) { pt.DialTCP(t, "192.168.7.2:31090", "pod-b") })
	t.Run("no endpoints is refused", func(t *testing.T) { pt.DialRefused(t, "10.97.0.52:80", 2*time.Second) })

	// A partial sync moving np to pod-a and emptying web leaves the other
	// listeners alone.
	web := types.NamespacedName{Namespace: "ns", Name: "web"}
	before := p.forwarderOf(t, "TCP/10.97.0.53:53", "UDP/10.97.0.53:53")
	tr.SetEndpointSlice(pt.Slice("ns", "np", "np-1", p80, epA))
	tr.SetEndpointSlice(pt.Slice("ns", "web", "web-1", p80))
	snap := tr.Snapshot(false)
	if !snap.State.Changed[web] || len(snap.State.Changed) != 2 {
		t.Fatalf("got changed %v, want web and np", snap.State.Changed)
	}
	if err := p.Sync(t.Context(), snap.State); err != nil {
		t.Fatalf("partial Sync: %v", err)
	}
	tr.Synced(snap)
	t.Run("partial: node port moved", func(t *testing.T) { pt.DialTCP(t, "192.168.7.2:31090", "pod-a") })
	t.Run("partial: emptied service refused", func(t *testing.T) { pt.DialRefused(t, "10.97.0.50:80", 2*time.Second) })
	t.Run("partial: untouched listener kept", func(t *testing.T) {
		if after := p.forwarderOf(t, "TCP/10.97.0.53:53", "UDP/10.97.0.53:53"); after != before {
			t.Errorf("got a new listener for ns/dns, want the old one kept")
		}
		pt.DialUDP(t, "10.97.0.53:53", "pod-a")
	})
	sync(true)
	t.Run("full resync keeps serving", func(t *testing.T) { pt.DialTCP(t, "192.168.7.2:31090", "pod-a") })
}

// forwarderOf returns the listener with the first of keys that exists.
func (p *Proxier) forwarderOf(t *testing.T, keys ...string) *listener {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, want := range keys {
		for k, l := range p.forwarders {
			if k.String() == want {
				return l
			}
		}
	}
	t.Fatalf("no listener among %v", keys)
	return nil
}

package iptables

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	discovery "k8s.io/api/discovery/v1"

	"github.com/svcnet/svcnet/internal/proxy"
	pt "github.com/svcnet/svcnet/internal/proxy/proxytest"
)

// Addresses of the traffic test; they differ from those of the other
// backends' traffic tests, which may share the namespace (hack/test.sh).
const (
	trafficNodeIP      = "192.168.8.2"
	trafficClusterCIDR = "10.248.0.0/16"
	trafficServiceCIDR = "10.98.0.0/16"
)

// TestRealTraffic programs real iptables rules and sends real traffic
// through them to servers in pod namespaces. It runs only as root inside
// the throw-away namespace made by hack/netns-run.sh.
func TestRealTraffic(t *testing.T) {
	pt.RequireNetns(t)
	if _, err := exec.LookPath("iptables-restore"); err != nil {
		t.Skip("iptables-restore not installed")
	}
	podA := pt.NewPod(t, pt.PodConfig{Name: "pod-a", HostVeth: "svcipt0", HostAddr: "10.248.0.1/24", PodAddr: "10.248.0.2/24"})
	podB := pt.NewPod(t, pt.PodConfig{Name: "pod-b", HostVeth: "svcipt1", HostAddr: "10.248.1.1/24", PodAddr: "10.248.1.2/24"})
	for _, pod := range []*pt.Pod{podA, podB} {
		pod.ServeTCP(t, 8080)
		pod.ServeUDP(t, 5353)
	}
	pt.AddAddr(t, "lo", trafficNodeIP+"/32")
	pt.AddRoute(t, trafficServiceCIDR, "svcipt0")
	pt.AddRoute(t, "198.51.100.70/31", "svcipt0")
	// Pod-originated (hairpin) traffic is routed through this namespace.
	if err := os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1"), 0o644); err != nil {
		t.Fatalf("enable forwarding: %v", err)
	}

	nodePort := func(np int32) func(*v1.Service) {
		return func(s *v1.Service) {
			s.Spec.Type = v1.ServiceTypeNodePort
			s.Spec.Ports[0].NodePort = np
		}
	}
	lb := func(ip string, ranges ...string) func(*v1.Service) {
		return func(s *v1.Service) {
			s.Spec.Type = v1.ServiceTypeLoadBalancer
			s.Spec.LoadBalancerSourceRanges = ranges
			s.Status.LoadBalancer.Ingress = []v1.LoadBalancerIngress{{IP: ip}}
		}
	}
	services := []*v1.Service{
		pt.Service("ns", "web", "10.98.0.50", []int32{80}),
		pt.Service("ns", "np", "10.98.0.51", []int32{80}, nodePort(32090)),
		pt.Service("ns", "noeps", "10.98.0.52", []int32{80}),
		pt.Service("ns", "dns", "10.98.0.53", nil, func(s *v1.Service) {
			s.Spec.Ports = []v1.ServicePort{{Name: "dns", Port: 53, Protocol: v1.ProtocolUDP}}
		}),
		pt.Service("ns", "spread", "10.98.0.54", []int32{80}),
		pt.Service("ns", "sticky", "10.98.0.55", []int32{80}, func(s *v1.Service) {
			s.Spec.SessionAffinity = v1.ServiceAffinityClientIP
		}),
		pt.Service("ns", "lbok", "10.98.0.56", []int32{80}, nodePort(32091), lb("198.51.100.70", "10.248.0.0/16")),
		pt.Service("ns", "lbdeny", "10.98.0.57", []int32{80}, nodePort(32092), lb("198.51.100.71", "192.0.2.0/24")),
	}
	p80 := []pt.SlicePort{{Name: "p80", Port: 8080}}
	a := pt.EP{IP: podA.IP, Node: pt.NodeName}
	b := pt.EP{IP: podB.IP, Node: "node-b"}
	slices := []*discovery.EndpointSlice{
		pt.Slice("ns", "web", "web-1", p80, a),
		pt.Slice("ns", "np", "np-1", p80, a),
		pt.Slice("ns", "dns", "dns-1", []pt.SlicePort{{Name: "dns", Port: 5353, Protocol: v1.ProtocolUDP}}, a),
		pt.Slice("ns", "spread", "spread-1", p80, a, b),
		pt.Slice("ns", "sticky", "sticky-1", p80, a, b),
		pt.Slice("ns", "lbok", "lbok-1", p80, a),
		pt.Slice("ns", "lbdeny", "lbdeny-1", p80, a),
	}
	p, err := New(Config{BackendConfig: proxy.BackendConfig{
		NodeName: pt.NodeName, ClusterCIDR: trafficClusterCIDR, ServiceCIDRs: []string{trafficServiceCIDR},
	}})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := p.Cleanup(context.Background()); err != nil { // t.Context is done by now
			t.Errorf("Cleanup: %v", err)
		}
	})
	st := pt.Scenario{Services: services, Slices: slices}.State(proxy.ServiceOptions{})
	if err := p.Sync(t.Context(), st); err != nil {
		t.Fatalf("Sync: %v", err)
	}

	tests := []struct {
		name  string
		check func(t *testing.T)
	}{
		{"cluster IP tcp", func(t *testing.T) { pt.DialTCP(t, "10.98.0.50:80", "pod-a") }},
		{"cluster IP udp", func(t *testing.T) { pt.DialUDP(t, "10.98.0.53:53", "pod-a") }},
		{"node port on node IP", func(t *testing.T) { pt.DialTCP(t, trafficNodeIP+":32090", "pod-a") }},
		{"node port on pod-network address", func(t *testing.T) { pt.DialTCP(t, "10.248.0.1:32090", "pod-a") }},
		{"node port not on loopback", func(t *testing.T) { pt.DialRefused(t, "127.0.0.1:32090", 2*time.Second) }},
		{"no endpoints is refused", func(t *testing.T) { pt.DialRefused(t, "10.98.0.52:80", 2*time.Second) }},
		{"wrong port of cluster IP is refused", func(t *testing.T) { pt.DialRefused(t, "10.98.0.50:81", 2*time.Second) }},
		{"unallocated service IP is dropped", func(t *testing.T) { pt.DialBlocked(t, "10.98.0.99:80", time.Second) }},
		{"spread over both endpoints", func(t *testing.T) { pt.CheckSpread(t, "10.98.0.54:80", "pod-a", "pod-b") }},
		{"client IP affinity", func(t *testing.T) { pt.CheckSticky(t, "10.98.0.55:80") }},
		{"load balancer IP from allowed source", func(t *testing.T) { pt.DialTCP(t, "198.51.100.70:80", "pod-a") }},
		{"load balancer IP from other source is dropped", func(t *testing.T) { pt.DialBlocked(t, "198.51.100.71:80", time.Second) }},
		{"node port of firewalled service is open", func(t *testing.T) { pt.DialTCP(t, trafficNodeIP+":32092", "pod-a") }},
		{"hairpin from the endpoint itself", func(t *testing.T) { pt.CheckHairpin(t, podA, "10.98.0.50:80") }},
	}
	for _, tc := range tests {
		t.Run(tc.name, tc.check)
	}
}

package announce

import (
	"context"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"
)

func TestARPRoundTrip(t *testing.T) {
	mac := net.HardwareAddr{2, 0, 0, 0, 0, 1}
	req := arpPacket{Op: arpRequest, SenderMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, SenderIP: netip.MustParseAddr("192.0.2.2"),
		TargetMAC: net.HardwareAddr{0, 0, 0, 0, 0, 0}, TargetIP: netip.MustParseAddr("192.0.2.100")}
	got, err := parseARP(req.marshal())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(req, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	rep := reply(req, mac)
	if rep.Op != arpReply || rep.SenderIP != req.TargetIP || rep.TargetIP != req.SenderIP ||
		rep.SenderMAC.String() != mac.String() || rep.TargetMAC.String() != req.SenderMAC.String() {
		t.Errorf("got reply %+v, want the request turned around with MAC %s", rep, mac)
	}
	if _, err := parseARP(make([]byte, 10)); err == nil {
		t.Errorf("got no error for a short packet")
	}
}

func node(name string, ready bool) *v1.Node {
	st := v1.ConditionFalse
	if ready {
		st = v1.ConditionTrue
	}
	return &v1.Node{ObjectMeta: metav1.ObjectMeta{Name: name},
		Status: v1.NodeStatus{Conditions: []v1.NodeCondition{{Type: v1.NodeReady, Status: st}}}}
}

func lbService(name string, ips ...string) *v1.Service {
	s := &v1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name},
		Spec: v1.ServiceSpec{Type: v1.ServiceTypeLoadBalancer}}
	for _, ip := range ips {
		s.Status.LoadBalancer.Ingress = append(s.Status.LoadBalancer.Ingress, v1.LoadBalancerIngress{IP: ip})
	}
	return s
}

func TestOwner(t *testing.T) {
	ip := netip.MustParseAddr("192.0.2.100")
	tests := []struct {
		name  string
		nodes []*v1.Node
		want  string
	}{
		{"no nodes", nil, ""},
		{"no ready node", []*v1.Node{node("a", false)}, ""},
		{"only ready node", []*v1.Node{node("a", false), node("b", true)}, "b"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Owner(ip, tc.nodes); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
	// Every order of the same nodes elects the same owner, and over many
	// IPs every node owns some.
	nodes := []*v1.Node{node("a", true), node("b", true), node("c", true)}
	owners := map[string]int{}
	for i := range 64 {
		ip := netip.AddrFrom4([4]byte{192, 0, 2, byte(i)})
		o := Owner(ip, nodes)
		if r := Owner(ip, []*v1.Node{nodes[2], nodes[0], nodes[1]}); r != o {
			t.Fatalf("owner of %s depends on order: %q vs %q", ip, o, r)
		}
		owners[o]++
	}
	if len(owners) != 3 {
		t.Errorf("got owners %v over 64 IPs, want all three nodes", owners)
	}
	svcs := []*v1.Service{lbService("lb", "192.0.2.100", "fd00::1"), {Spec: v1.ServiceSpec{Type: v1.ServiceTypeClusterIP}}}
	got := OwnedIPs(Owner(ip, nodes), svcs, nodes, nil, nil)
	if diff := cmp.Diff(map[netip.Addr]bool{ip: true}, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("OwnedIPs (-want +got):\n%s", diff)
	}
}

// slice is an EndpointSlice of Service ns/svc with one endpoint per
// entry of eps, "node" (ready), "node:not-ready" or "node:unknown" (no
// ready condition); "" is an endpoint without nodeName.
func slice(ns, svc string, eps ...string) *discoveryv1.EndpointSlice {
	s := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: svc + "-x",
		Labels: map[string]string{discoveryv1.LabelServiceName: svc}}, AddressType: discoveryv1.AddressTypeIPv4}
	for _, e := range eps {
		name, cond, _ := strings.Cut(e, ":")
		ep := discoveryv1.Endpoint{Addresses: []string{"10.244.0.1"}}
		if name != "" {
			ep.NodeName = &name
		}
		switch cond {
		case "":
			ep.Conditions.Ready = ptr.To(true)
		case "not-ready":
			ep.Conditions.Ready = ptr.To(false)
		}
		s.Endpoints = append(s.Endpoints, ep)
	}
	return s
}

// endpointNodes answers from slices as the Announcer does from its cache.
func endpointNodes(all ...*discoveryv1.EndpointSlice) EndpointNodes {
	return func(ns, name string) map[string]bool {
		var mine []*discoveryv1.EndpointSlice
		for _, s := range all {
			if s.Namespace == ns && s.Labels[discoveryv1.LabelServiceName] == name {
				mine = append(mine, s)
			}
		}
		return ReadyEndpointNodes(mine)
	}
}

// TestTrafficPolicyCandidates: for externalTrafficPolicy Local only the
// Ready nodes with a ready endpoint of the Service may announce its IP.
func TestTrafficPolicyCandidates(t *testing.T) {
	excluded := node("excluded", true)
	excluded.Labels = map[string]string{v1.LabelNodeExcludeBalancers: ""}
	nodes := []*v1.Node{node("a", true), node("b", true), node("c", true), node("down", false), excluded}
	local := func(s *v1.Service) *v1.Service {
		s.Spec.ExternalTrafficPolicy = v1.ServiceExternalTrafficPolicyLocal
		return s
	}
	tests := []struct {
		name   string
		svc    *v1.Service
		slices []*discoveryv1.EndpointSlice
		want   []string // Ready candidates
	}{
		{name: "cluster policy: every ready node not excluded", svc: lbService("web", "192.0.2.10"),
			slices: []*discoveryv1.EndpointSlice{slice("default", "web", "a")}, want: []string{"a", "b", "c"}},
		{name: "local: nodes with ready endpoints", svc: local(lbService("web", "192.0.2.10")),
			slices: []*discoveryv1.EndpointSlice{slice("default", "web", "a", "c")}, want: []string{"a", "c"}},
		{name: "local: endpoints over several slices", svc: local(lbService("web", "192.0.2.10")),
			slices: []*discoveryv1.EndpointSlice{slice("default", "web", "a"), slice("default", "web", "b")},
			want:   []string{"a", "b"}},
		{name: "local: not-ready endpoint does not count", svc: local(lbService("web", "192.0.2.10")),
			slices: []*discoveryv1.EndpointSlice{slice("default", "web", "a:not-ready", "b")}, want: []string{"b"}},
		{name: "local: no ready condition counts as ready", svc: local(lbService("web", "192.0.2.10")),
			slices: []*discoveryv1.EndpointSlice{slice("default", "web", "c:unknown")}, want: []string{"c"}},
		{name: "local: endpoint only on a down node", svc: local(lbService("web", "192.0.2.10")),
			slices: []*discoveryv1.EndpointSlice{slice("default", "web", "down")}, want: nil},
		{name: "local: no endpoints, no announcement", svc: local(lbService("web", "192.0.2.10")), want: nil},
		{name: "local: only not-ready endpoints", svc: local(lbService("web", "192.0.2.10")),
			slices: []*discoveryv1.EndpointSlice{slice("default", "web", "a:not-ready", "b:not-ready")}, want: nil},
		{name: "local: endpoint without node name", svc: local(lbService("web", "192.0.2.10")),
			slices: []*discoveryv1.EndpointSlice{slice("default", "web", "")}, want: nil},
		{name: "local: excluded node with an endpoint", svc: local(lbService("web", "192.0.2.10")),
			slices: []*discoveryv1.EndpointSlice{slice("default", "web", "excluded", "b")}, want: []string{"b"}},
		{name: "local: same-named Service elsewhere does not count", svc: local(lbService("web", "192.0.2.10")),
			slices: []*discoveryv1.EndpointSlice{slice("other", "web", "a"), slice("default", "web-2", "b")}, want: nil},
	}
	ip := netip.MustParseAddr("192.0.2.10")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			eps := endpointNodes(tc.slices...)
			var got []string
			for _, n := range candidates(tc.svc, nodes, eps) {
				if nodeReady(n) {
					got = append(got, n.Name)
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("candidates (-want +got):\n%s", diff)
			}
			// Exactly the elected candidate owns the IP, on every node's
			// view; none does without candidates.
			var wantOwner string
			if len(tc.want) > 0 {
				var cands []*v1.Node
				for _, name := range tc.want {
					cands = append(cands, node(name, true))
				}
				wantOwner = Owner(ip, cands)
			}
			var owners []string
			for _, n := range nodes {
				if OwnedIPs(n.Name, []*v1.Service{tc.svc}, nodes, eps, nil)[ip] {
					owners = append(owners, n.Name)
				}
			}
			if wantOwner == "" && len(owners) != 0 || wantOwner != "" && !slices.Equal(owners, []string{wantOwner}) {
				t.Errorf("got owners %v, want %q", owners, wantOwner)
			}
		})
	}
}

func run(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestAnswersARP runs the announcer on one end of a veth pair and resolves
// the LB IP from a namespace on the other end.
func TestAnswersARP(t *testing.T) {
	if os.Getenv("SVCNET_IN_NETNS") != "1" || os.Geteuid() != 0 {
		t.Skip("needs root inside a private network namespace (hack/netns-run.sh)")
	}
	const peerNS = "svcnet-announce-test"
	_ = exec.Command("ip", "netns", "del", peerNS).Run()
	_ = exec.Command("ip", "link", "del", "svcann0").Run()
	run(t, "ip", "netns", "add", peerNS)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", peerNS).Run() })
	run(t, "ip", "link", "add", "svcann0", "type", "veth", "peer", "name", "svcann1")
	t.Cleanup(func() { _ = exec.Command("ip", "link", "del", "svcann0").Run() })
	run(t, "ip", "link", "set", "svcann1", "netns", peerNS)
	run(t, "ip", "addr", "add", "192.0.2.1/24", "dev", "svcann0")
	run(t, "ip", "link", "set", "svcann0", "up")
	run(t, "ip", "netns", "exec", peerNS, "ip", "addr", "add", "192.0.2.2/24", "dev", "svcann1")
	run(t, "ip", "netns", "exec", peerNS, "ip", "link", "set", "svcann1", "up")
	ifc, err := net.InterfaceByName("svcann0")
	if err != nil {
		t.Fatal(err)
	}

	client := fake.NewClientset(node("n1", true), lbService("lb", "192.0.2.100"), lbService("other", "192.0.2.101"))
	factory := informers.NewSharedInformerFactory(client, 0)
	// n1 is the only Ready node, so it owns every LB IP.
	a, err := New(Config{Informers: factory, NodeName: "n1"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	factory.Start(ctx.Done())
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})

	resolve := func(ip string) string {
		// A UDP datagram makes the peer resolve ip; the neighbour table
		// then tells who answered.
		_ = exec.Command("ip", "netns", "exec", peerNS, "bash", "-c", "echo x > /dev/udp/"+ip+"/9").Run()
		out, _ := exec.Command("ip", "netns", "exec", peerNS, "ip", "neigh", "show", ip, "dev", "svcann1").CombinedOutput()
		return string(out)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		out := resolve("192.0.2.100")
		if strings.Contains(out, "lladdr "+ifc.HardwareAddr.String()) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("peer never resolved 192.0.2.100 to %s; neighbour entry: %q", ifc.HardwareAddr, out)
		}
		time.Sleep(100 * time.Millisecond) // poll interval, not synchronisation
	}

	// Deleting the Service stops the answers: a fresh resolution fails.
	if err := client.CoreV1().Services("default").Delete(ctx, "lb", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(10 * time.Second)
	for a.Owned(netip.MustParseAddr("192.0.2.100")) {
		if time.Now().After(deadline) {
			t.Fatal("still announcing 192.0.2.100 after its Service was deleted")
		}
		time.Sleep(50 * time.Millisecond) // poll interval, not synchronisation
	}
	run(t, "ip", "netns", "exec", peerNS, "ip", "neigh", "flush", "dev", "svcann1")
	for range 5 {
		if out := resolve("192.0.2.100"); strings.Contains(out, "lladdr") {
			t.Fatalf("peer resolved 192.0.2.100 after the Service was deleted: %q", out)
		}
	}
}

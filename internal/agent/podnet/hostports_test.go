package podnet

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/knftables"
)

// chainRules lists the rules of chain in the fake's table.
func chainRules(fake *knftables.Fake, chain string) []string {
	var out []string
	if fake.Table == nil || fake.Table.Chains[chain] == nil {
		return nil
	}
	for _, r := range fake.Table.Chains[chain].Rules {
		out = append(out, r.Rule)
	}
	return out
}

func TestHostPortRules(t *testing.T) {
	fake := knftables.NewFake(knftables.IPv4Family, hostPortTable)
	var flushed []uint16
	flush := func(_ context.Context, port uint16) error { flushed = append(flushed, port); return nil }
	m, err := New(Config{PodCIDR: netip.MustParsePrefix("10.244.0.0/24"), DataDir: t.TempDir(), NetnsDir: t.TempDir(),
		BridgeName: "svcnet-none", HostPortNFT: fake, FlushUDP: flush, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, uid := range []string{"pod-a", "pod-b", "pod-c"} {
		if _, err := m.ipam.Allocate(uid); err != nil {
			t.Fatal(err)
		}
	}
	ipOf := func(uid string) string {
		ip, _, _ := m.ipam.Lookup(uid)
		return ip.String()
	}
	a, b := ipOf("pod-a"), ipOf("pod-b")
	if err := m.SetHostPorts(ctx, "pod-a", []HostPort{{Protocol: "TCP", HostPort: 8080, ContainerPort: 80}}); err != nil {
		t.Fatal(err)
	}
	if err := m.SetHostPorts(ctx, "pod-b", []HostPort{
		{HostIP: netip.MustParseAddr("127.0.0.1"), Protocol: "tcp", HostPort: 54323, ContainerPort: 8080},
		{HostIP: netip.MustParseAddr("192.0.2.1"), Protocol: "udp", HostPort: 54323, ContainerPort: 8080},
	}); err != nil {
		t.Fatal(err)
	}
	if err := m.SetHostPorts(ctx, "pod-c", nil); err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		hpPrerouting: {"fib daddr type local jump hostports"},
		hpOutput:     {"fib daddr type local jump hostports"},
		hpInput:      {`iifname "svcnet-none" ip daddr 127.0.0.0/8 ct state != { established, related } drop`},
		hpDispatch: {
			"tcp dport 8080 dnat to " + a + ":80",
			"ip daddr 127.0.0.1 tcp dport 54323 dnat to " + b + ":8080",
			"ip daddr 192.0.2.1 udp dport 54323 dnat to " + b + ":8080",
		},
		hpPostrouting: {
			"ct status dnat ip daddr " + a + " tcp dport 80 ip saddr { 127.0.0.0/8, " + a + " } masquerade",
			"ct status dnat ip daddr " + b + " tcp dport 8080 ip saddr { 127.0.0.0/8, " + b + " } masquerade",
			"ct status dnat ip daddr " + b + " udp dport 8080 ip saddr { 127.0.0.0/8, " + b + " } masquerade",
		},
	}
	got := map[string][]string{}
	for c := range want {
		got[c] = chainRules(fake, c)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rules (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]uint16{54323}, flushed); diff != "" {
		t.Errorf("UDP conntrack flushes (-want +got):\n%s", diff)
	}
	flushed = nil

	// Teardown unpublishes the pod's ports only.
	if err := m.TeardownPod("pod-a"); err != nil {
		t.Fatal(err)
	}
	if got := chainRules(fake, hpDispatch); len(got) != 2 || strings.Contains(strings.Join(got, ","), a+":") {
		t.Errorf("after pod-a's teardown got %q, want pod-b's rules only", got)
	}
	if len(flushed) != 0 {
		t.Errorf("TCP port's teardown flushed UDP ports %v, want none", flushed)
	}

	// A restarted agent syncs from its live pods: pod-b is gone, pod-c
	// now has a port.
	m2, err := New(Config{PodCIDR: netip.MustParsePrefix("10.244.0.0/24"), DataDir: m.cfg.DataDir, NetnsDir: m.cfg.NetnsDir,
		BridgeName: "svcnet-none", HostPortNFT: fake, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := m2.SyncHostPorts(ctx, map[string][]HostPort{"pod-c": {{Protocol: "sctp", HostPort: 9, ContainerPort: 9}}}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"sctp dport 9 dnat to " + ipOf("pod-c") + ":9"}, chainRules(fake, hpDispatch)); diff != "" {
		t.Errorf("after sync (-want +got):\n%s", diff)
	}
	// No host ports left: the table goes.
	if err := m2.SyncHostPorts(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if fake.Table != nil {
		t.Errorf("got table %s, want none", fake.Dump())
	}
	if err := m2.SetHostPorts(ctx, "pod-x", []HostPort{{Protocol: "tcp", HostPort: 1, ContainerPort: 1}}); err == nil {
		t.Errorf("host port of a pod without an address: got no error")
	}
}

// TestHostPortTraffic publishes a pod's port on the node and connects to
// it from the node at its address and at 127.0.0.1, and from the pod
// itself at the node address (hairpin).
func TestHostPortTraffic(t *testing.T) {
	requireNetns(t)
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("needs nft")
	}
	const nodeIP = "192.0.2.10"
	if out, err := exec.Command("sh", "-c", "ip link add node0 type veth peer name node0p && ip addr add "+nodeIP+"/24 dev node0 && ip link set node0 up").CombinedOutput(); err != nil {
		t.Fatalf("node address: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "link", "del", "node0").Run() })
	m, err := New(Config{PodCIDR: netip.MustParsePrefix("10.244.0.0/24"), DataDir: t.TempDir(), NetnsDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.EnsureBridge(); err != nil {
		t.Fatal(err)
	}
	sb, err := m.SetupPod("pod-a")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.TeardownPod("pod-a") })
	var ln net.Listener
	if err := inNetns(t, sb.NetnsPath, func() error {
		var err error
		ln, err = net.Listen("tcp4", ":8080")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = io.WriteString(c, "pod-a sees "+c.RemoteAddr().(*net.TCPAddr).IP.String()+"\n")
			c.Close()
		}
	}()
	ports := []HostPort{
		{Protocol: "tcp", HostPort: 30080, ContainerPort: 8080},
		{HostIP: netip.MustParseAddr("127.0.0.1"), Protocol: "tcp", HostPort: 30081, ContainerPort: 8080},
	}
	if err := m.SetHostPorts(context.Background(), "pod-a", ports); err != nil {
		t.Fatal(err)
	}
	read := func(addr string) (string, error) {
		c, err := net.DialTimeout("tcp4", addr, 2*time.Second)
		if err != nil {
			return "", err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(2 * time.Second))
		b, err := io.ReadAll(c)
		return strings.TrimSpace(string(b)), err
	}
	for _, tc := range []struct{ name, addr, want string }{
		{"node address", nodeIP + ":30080", "pod-a sees " + nodeIP},
		{"loopback host IP", "127.0.0.1:30081", "pod-a sees " + sb.Gateway.String()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, err := read(tc.addr); err != nil || got != tc.want {
				t.Errorf("%s: got %q, %v, want %q", tc.addr, got, err, tc.want)
			}
		})
	}
	t.Run("an unpublished port is refused", func(t *testing.T) {
		if got, err := read("127.0.0.1:30082"); err == nil {
			t.Errorf("127.0.0.1:30082 answered %q, want refused", got)
		}
	})
	t.Run("hairpin from the pod", func(t *testing.T) {
		var got string
		err := inNetns(t, sb.NetnsPath, func() error {
			var err error
			got, err = read(nodeIP + ":30080")
			return err
		})
		if want := "pod-a sees " + sb.Gateway.String(); err != nil || got != want {
			t.Errorf("got %q, %v, want %q", got, err, want)
		}
	})
	if err := m.TeardownPod("pod-a"); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("nft", "list", "table", "ip", hostPortTable).CombinedOutput(); err == nil {
		t.Errorf("table still there after the last pod's teardown:\n%s", out)
	}
}

// TestHostPortUDPFlowBegunBefore sends UDP to a host port before it is
// published (the kernel records the flow as one to the node itself), then
// from the same source port after: the flow's conntrack entry must have
// been deleted for the packet to reach the pod.
func TestHostPortUDPFlowBegunBefore(t *testing.T) {
	requireNetns(t)
	for _, bin := range []string{"nft", "conntrack"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("needs %s", bin)
		}
	}
	const nodeIP = "192.0.2.20"
	if out, err := exec.Command("sh", "-c", "ip link add node1 type veth peer name node1p && ip addr add "+nodeIP+"/24 dev node1 && ip link set node1 up").CombinedOutput(); err != nil {
		t.Fatalf("node address: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "link", "del", "node1").Run() })
	m, err := New(Config{PodCIDR: netip.MustParsePrefix("10.244.0.0/24"), DataDir: t.TempDir(), NetnsDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.EnsureBridge(); err != nil {
		t.Fatal(err)
	}
	sb, err := m.SetupPod("pod-u")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.TeardownPod("pod-u") })
	var pc net.PacketConn
	if err := inNetns(t, sb.NetnsPath, func() error {
		var err error
		pc, err = net.ListenPacket("udp4", ":8090")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	go func() {
		buf := make([]byte, 64)
		for {
			n, addr, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			_, _ = pc.WriteTo(append([]byte("pod-u:"), buf[:n]...), addr)
		}
	}()
	client, err := net.ListenPacket("udp4", "0.0.0.0:40123")
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	dst := &net.UDPAddr{IP: net.ParseIP(nodeIP), Port: 30090}
	// NAT chains exist (on a node: the proxy's, the pod masquerade), so
	// the first packet's conntrack entry is marked as not to be NATed.
	if err := m.SetHostPorts(context.Background(), "pod-u", []HostPort{{Protocol: "tcp", HostPort: 30091, ContainerPort: 8090}}); err != nil {
		t.Fatal(err)
	}
	// Before the port is published: nothing answers, the flow is tracked.
	if _, err := client.WriteTo([]byte("early"), dst); err != nil {
		t.Fatal(err)
	}
	if err := m.SetHostPorts(context.Background(), "pod-u", []HostPort{{Protocol: "tcp", HostPort: 30091, ContainerPort: 8090},
		{Protocol: "udp", HostPort: 30090, ContainerPort: 8090}}); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	var got string
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline) && got == ""; {
		if _, err := client.WriteTo([]byte("ping"), dst); err != nil {
			t.Fatal(err)
		}
		_ = client.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		if n, _, err := client.ReadFrom(buf); err == nil {
			got = string(buf[:n])
		}
	}
	if got != "pod-u:ping" {
		t.Errorf("same flow after publishing got %q, want pod-u:ping", got)
	}
}

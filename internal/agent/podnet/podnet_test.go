package podnet

import (
	"io"
	"net"
	"net/netip"
	"os"
	"runtime"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

func requireNetns(t *testing.T) {
	t.Helper()
	if os.Getenv("SVCNET_IN_NETNS") != "1" || os.Geteuid() != 0 {
		t.Skip("needs root inside a fresh network namespace (SVCNET_IN_NETNS=1)")
	}
}

// inNetns runs fn on a thread switched into the namespace at path; the
// thread is discarded afterwards.
func inNetns(t *testing.T, path string, fn func() error) error {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		ns, err := netns.GetFromPath(path)
		if err != nil {
			errc <- err
			return
		}
		defer ns.Close()
		if err := netns.Set(ns); err != nil {
			errc <- err
			return
		}
		errc <- fn()
	}()
	return <-errc
}

func TestPodsTalkOverBridge(t *testing.T) {
	requireNetns(t)
	m, err := New(Config{PodCIDR: netip.MustParsePrefix("10.244.0.0/24"), DataDir: t.TempDir(), NetnsDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.EnsureBridge(); err != nil {
		t.Fatal(err)
	}
	a, err := m.SetupPod("pod-a")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.TeardownPod("pod-a") })
	b, err := m.SetupPod("pod-b")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.TeardownPod("pod-b") })
	if again, err := m.SetupPod("pod-a"); err != nil || again != a {
		t.Fatalf("SetupPod again got (%+v, %v), want (%+v, nil)", again, err, a)
	}

	var ln net.Listener
	if err := inNetns(t, a.NetnsPath, func() error {
		var err error
		ln, err = net.Listen("tcp", net.JoinHostPort(a.IP.String(), "8080"))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		_, _ = io.WriteString(c, c.RemoteAddr().String())
		c.Close()
	}()

	var got string
	if err := inNetns(t, b.NetnsPath, func() error {
		c, err := net.Dial("tcp", net.JoinHostPort(a.IP.String(), "8080"))
		if err != nil {
			return err
		}
		defer c.Close()
		buf, err := io.ReadAll(c)
		got = string(buf)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	host, _, _ := net.SplitHostPort(got)
	if host != b.IP.String() {
		t.Errorf("server saw client %q, want %s", got, b.IP)
	}

	if err := m.TeardownPod("pod-b"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(b.NetnsPath); !os.IsNotExist(err) {
		t.Errorf("netns %s still exists after teardown (stat err %v)", b.NetnsPath, err)
	}
	if _, err := netlink.LinkByName(hostVethName("pod-b")); err == nil {
		t.Errorf("veth of pod-b still exists after teardown")
	}
	if _, ok, _ := m.IPAM().Lookup("pod-b"); ok {
		t.Errorf("address of pod-b still allocated after teardown")
	}
}

func TestSyncRoutes(t *testing.T) {
	requireNetns(t)
	m, err := New(Config{PodCIDR: netip.MustParsePrefix("10.244.0.0/24"), DataDir: t.TempDir(), NetnsDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.EnsureBridge(); err != nil {
		t.Fatal(err)
	}
	routes := func() []string {
		have, err := netlink.RouteListFiltered(0, &netlink.Route{Protocol: routeProtocol}, netlink.RT_FILTER_PROTOCOL)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range have {
			out = append(out, r.Dst.String()+" via "+r.Gw.String())
		}
		return out
	}
	want := []NodeRoute{
		{PodCIDR: netip.MustParsePrefix("10.244.1.0/24"), Via: netip.MustParseAddr("10.244.0.201")},
		{PodCIDR: netip.MustParsePrefix("10.244.0.0/24"), Via: netip.MustParseAddr("10.244.0.202")}, // own range: skipped
	}
	if err := m.SyncRoutes(want); err != nil {
		t.Fatal(err)
	}
	if got := routes(); len(got) != 1 || got[0] != "10.244.1.0/24 via 10.244.0.201" {
		t.Errorf("routes got %v, want [10.244.1.0/24 via 10.244.0.201]", got)
	}
	if err := m.SyncRoutes(nil); err != nil {
		t.Fatal(err)
	}
	if got := routes(); len(got) != 0 {
		t.Errorf("routes after removal got %v, want none", got)
	}
}

// TestHairpinMode checks the pod's bridge port is in hairpin mode after
// SetupPod, and again after a re-adoption finds it turned off (as an
// agent from before hairpin mode left it).
func TestHairpinMode(t *testing.T) {
	requireNetns(t)
	m, err := New(Config{PodCIDR: netip.MustParsePrefix("10.244.0.0/24"), DataDir: t.TempDir(), NetnsDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.EnsureBridge(); err != nil {
		t.Fatal(err)
	}
	if _, err := m.SetupPod("pod-a"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.TeardownPod("pod-a") })
	hairpin := func() bool {
		t.Helper()
		l, err := netlink.LinkByName(hostVethName("pod-a"))
		if err != nil {
			t.Fatal(err)
		}
		pi, err := netlink.LinkGetProtinfo(l)
		if err != nil {
			t.Fatal(err)
		}
		return pi.Hairpin
	}
	if !hairpin() {
		t.Errorf("hairpin mode off after SetupPod, want on")
	}
	l, err := netlink.LinkByName(hostVethName("pod-a"))
	if err != nil {
		t.Fatal(err)
	}
	if err := netlink.LinkSetHairpin(l, false); err != nil {
		t.Fatal(err)
	}
	if _, err := m.SetupPod("pod-a"); err != nil {
		t.Fatal(err)
	}
	if !hairpin() {
		t.Errorf("hairpin mode off after re-adoption, want on")
	}
}

func TestHostNetworkPod(t *testing.T) {
	requireNetns(t)
	m, err := New(Config{PodCIDR: netip.MustParsePrefix("10.244.0.0/24"), DataDir: t.TempDir(), NetnsDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	nodeIP := netip.MustParseAddr("192.0.2.10")
	for range 2 { // idempotent
		sb, err := m.SetupHostNetworkPod("pod-h", nodeIP)
		if err != nil {
			t.Fatal(err)
		}
		if sb.IP != nodeIP || sb.NetnsPath != m.NetnsPath("pod-h") {
			t.Fatalf("got %+v, want the node IP at the pod's netns path", sb)
		}
	}
	var pin, own unix.Stat_t
	if err := unix.Stat(m.NetnsPath("pod-h"), &pin); err != nil {
		t.Fatal(err)
	}
	if err := unix.Stat("/proc/self/ns/net", &own); err != nil {
		t.Fatal(err)
	}
	if pin.Ino != own.Ino || pin.Dev != own.Dev {
		t.Errorf("pinned namespace %d:%d, want the node's %d:%d", pin.Dev, pin.Ino, own.Dev, own.Ino)
	}
	if _, ok, _ := m.IPAM().Lookup("pod-h"); ok {
		t.Errorf("a hostNetwork pod got a pod IP")
	}
	if err := m.TeardownPod("pod-h"); err != nil {
		t.Fatal(err)
	}
	if pinned(m.NetnsPath("pod-h")) {
		t.Errorf("still pinned after teardown")
	}
	if _, err := netlink.LinkByName("lo"); err != nil {
		t.Errorf("the node's namespace lost loopback: %v", err)
	}
}

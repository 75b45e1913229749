package proxytest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// RequireNetns skips the test unless it runs as root inside the throw-away
// network namespace made by hack/netns-run.sh (SVCNET_IN_NETNS=1).
func RequireNetns(t *testing.T) {
	t.Helper()
	if os.Getenv("SVCNET_IN_NETNS") != "1" || os.Geteuid() != 0 {
		t.Skip("needs root inside a fresh network namespace (SVCNET_IN_NETNS=1)")
	}
}

// PodConfig describes a "pod": a network namespace of its own joined to the
// test's namespace by a veth pair.
type PodConfig struct {
	// Name is the pod's hostname-like name, echoed by its servers.
	Name string
	// HostVeth names the test-side veth (<= 15 chars, unique per test binary).
	HostVeth string
	// HostAddr and PodAddr are CIDR addresses, e.g. 10.244.0.1/24 and 10.244.0.2/24.
	HostAddr string
	PodAddr  string
}

// Pod is a running pod network namespace.
type Pod struct {
	Name string
	// IP is the pod's address.
	IP string
	ns netns.NsHandle
}

// NewPod creates the pod namespace, the veth pair, the addresses and a
// default route in the pod via the host side. Everything is removed at the
// end of the test. Call only after RequireNetns.
func NewPod(t *testing.T, cfg PodConfig) *Pod {
	t.Helper()
	podAddr, err := netlink.ParseAddr(cfg.PodAddr)
	if err != nil {
		t.Fatalf("parse pod address: %v", err)
	}
	hostAddr, err := netlink.ParseAddr(cfg.HostAddr)
	if err != nil {
		t.Fatalf("parse host address: %v", err)
	}
	ns, err := newNetns()
	if err != nil {
		t.Fatalf("create pod netns: %v", err)
	}
	pod := &Pod{Name: cfg.Name, IP: podAddr.IP.String(), ns: ns}
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: cfg.HostVeth}, PeerName: cfg.HostVeth + "p"}
	if err := netlink.LinkAdd(veth); err != nil {
		_ = ns.Close()
		t.Fatalf("add veth %s: %v", cfg.HostVeth, err)
	}
	t.Cleanup(func() {
		_ = netlink.LinkDel(veth) // deletes the peer too
		_ = ns.Close()            // the namespace goes away with its last reference
	})
	peer, err := netlink.LinkByName(veth.PeerName)
	if err != nil {
		t.Fatalf("find veth peer: %v", err)
	}
	if err := netlink.LinkSetNsFd(peer, int(ns)); err != nil {
		t.Fatalf("move veth peer into pod: %v", err)
	}
	if err := netlink.AddrAdd(veth, hostAddr); err != nil {
		t.Fatalf("add host address: %v", err)
	}
	if err := netlink.LinkSetUp(veth); err != nil {
		t.Fatalf("set host veth up: %v", err)
	}
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		t.Fatalf("netlink handle in pod: %v", err)
	}
	defer h.Close()
	for _, name := range []string{"lo", veth.PeerName} {
		l, err := h.LinkByName(name)
		if err != nil {
			t.Fatalf("find %s in pod: %v", name, err)
		}
		if name != "lo" {
			if err := h.AddrAdd(l, podAddr); err != nil {
				t.Fatalf("add pod address: %v", err)
			}
		}
		if err := h.LinkSetUp(l); err != nil {
			t.Fatalf("set %s up in pod: %v", name, err)
		}
		if name != "lo" {
			if err := h.RouteAdd(&netlink.Route{LinkIndex: l.Attrs().Index, Gw: hostAddr.IP}); err != nil {
				t.Fatalf("add pod default route: %v", err)
			}
		}
	}
	return pod
}

// newNetns creates a network namespace on a throw-away thread and returns a
// handle to it; the calling thread's namespace is untouched.
func newNetns() (netns.NsHandle, error) {
	type result struct {
		ns  netns.NsHandle
		err error
	}
	ch := make(chan result, 1)
	go func() {
		// The thread is never unlocked: it dies with the goroutine, so its
		// changed namespace cannot leak to other goroutines.
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			ch <- result{err: fmt.Errorf("unshare: %w", err)}
			return
		}
		ns, err := netns.Get()
		ch <- result{ns: ns, err: err}
	}()
	r := <-ch
	return r.ns, r.err
}

// Do runs fn on a thread inside the pod's namespace. Sockets created by fn
// stay in the pod's namespace after it returns.
func (p *Pod) Do(fn func() error) error {
	ch := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread exits with the goroutine
		if err := netns.Set(p.ns); err != nil {
			ch <- fmt.Errorf("enter pod netns: %w", err)
			return
		}
		ch <- fn()
	}()
	return <-ch
}

// ServeTCP starts a server on :port in the pod that writes "<name>\n" and
// then echoes everything it reads.
func (p *Pod) ServeTCP(t *testing.T, port int) {
	t.Helper()
	var ln net.Listener
	if err := p.Do(func() (err error) {
		ln, err = net.Listen("tcp4", fmt.Sprintf(":%d", port))
		return err
	}); err != nil {
		t.Fatalf("listen tcp in pod: %v", err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if _, err := io.WriteString(c, p.Name+"\n"); err != nil {
					return
				}
				_, _ = io.Copy(c, c)
			}()
		}
	}()
}

// ServeUDP starts a server on :port in the pod answering each datagram with
// "<name>:<datagram>".
func (p *Pod) ServeUDP(t *testing.T, port int) {
	t.Helper()
	var pc net.PacketConn
	if err := p.Do(func() (err error) {
		pc, err = net.ListenPacket("udp4", fmt.Sprintf(":%d", port))
		return err
	}); err != nil {
		t.Fatalf("listen udp in pod: %v", err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	go func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			_, _ = pc.WriteTo(append([]byte(p.Name+":"), buf[:n]...), from)
		}
	}()
}

// AddAddr adds a CIDR address to an existing link of the test's namespace
// (e.g. "lo"), removed at the end of the test.
func AddAddr(t *testing.T, dev, cidr string) {
	t.Helper()
	l, err := netlink.LinkByName(dev)
	if err != nil {
		t.Fatalf("find %s: %v", dev, err)
	}
	addr, err := netlink.ParseAddr(cidr)
	if err != nil {
		t.Fatal(err)
	}
	if err := netlink.AddrAdd(l, addr); err != nil {
		t.Fatalf("add %s to %s: %v", cidr, dev, err)
	}
	t.Cleanup(func() { _ = netlink.AddrDel(l, addr) })
}

// AddRoute routes cidr out of the named link, removed at the end of the test.
func AddRoute(t *testing.T, cidr, dev string) {
	t.Helper()
	l, err := netlink.LinkByName(dev)
	if err != nil {
		t.Fatalf("find %s: %v", dev, err)
	}
	pfx, err := netip.ParsePrefix(cidr)
	if err != nil {
		t.Fatal(err)
	}
	dst := &net.IPNet{IP: pfx.Addr().AsSlice(), Mask: net.CIDRMask(pfx.Bits(), 32)}
	r := &netlink.Route{LinkIndex: l.Attrs().Index, Dst: dst, Scope: netlink.SCOPE_LINK}
	if err := netlink.RouteAdd(r); err != nil {
		t.Fatalf("add route %s dev %s: %v", cidr, dev, err)
	}
	t.Cleanup(func() { _ = netlink.RouteDel(r) })
}

// DialTCP connects to addr, checks the greeting equals want and that a line
// is echoed back. It retries until the deadline so rules may settle.
func DialTCP(t *testing.T, addr, want string) {
	t.Helper()
	var last error
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		got, err := TCPRoundTrip(addr)
		if err == nil {
			if got != want {
				t.Fatalf("%s: got greeting %q, want %q", addr, got, want)
			}
			return
		}
		last = err
		time.Sleep(50 * time.Millisecond) // retry pacing, not synchronisation
	}
	t.Fatalf("%s: no answer: %v", addr, last)
}

// TCPGreeting connects to addr and returns the server's greeting (the pod
// name), retrying until the deadline.
func TCPGreeting(t *testing.T, addr string) string {
	t.Helper()
	var last error
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		got, err := TCPRoundTrip(addr)
		if err == nil {
			return got
		}
		last = err
		time.Sleep(50 * time.Millisecond) // retry pacing, not synchronisation
	}
	t.Fatalf("%s: no answer: %v", addr, last)
	return ""
}

// TCPRoundTrip connects to addr once, reads the server's greeting, checks
// a line is echoed and returns the greeting.
func TCPRoundTrip(addr string) (string, error) {
	c, err := net.DialTimeout("tcp4", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	r := bufio.NewReader(c)
	greeting, err := r.ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("read greeting: %w", err)
	}
	if _, err := io.WriteString(c, "ping\n"); err != nil {
		return "", err
	}
	echo, err := r.ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("read echo: %w", err)
	}
	if echo != "ping\n" {
		return "", fmt.Errorf("got echo %q, want %q", echo, "ping\n")
	}
	return strings.TrimSuffix(greeting, "\n"), nil
}

// CheckSpread connects to addr up to 100 times and fails unless every
// server in want answered at least once.
func CheckSpread(t *testing.T, addr string, want ...string) {
	t.Helper()
	seen := map[string]bool{}
	for i := 0; i < 100 && len(seen) < len(want); i++ {
		seen[TCPGreeting(t, addr)] = true
	}
	for _, w := range want {
		if !seen[w] {
			t.Errorf("%s: got servers %v over 100 connections, want all of %v", addr, seen, want)
			return
		}
	}
}

// CheckSticky connects to addr 20 times and fails unless one server
// answered every connection (ClientIP affinity).
func CheckSticky(t *testing.T, addr string) {
	t.Helper()
	first := TCPGreeting(t, addr)
	for i := 0; i < 20; i++ {
		if got := TCPGreeting(t, addr); got != first {
			t.Fatalf("%s: connection %d answered by %s, want %s (affinity)", addr, i, got, first)
		}
	}
}

// CheckHairpin connects from inside pod to addr, a Service whose only
// endpoint is that pod, and fails unless the pod answers. Without
// masquerading the pod would see its own address as the source of a packet
// arriving from outside and drop it.
func CheckHairpin(t *testing.T, pod *Pod, addr string) {
	t.Helper()
	var got string
	err := pod.Do(func() error {
		var err error
		got, err = TCPRoundTrip(addr)
		return err
	})
	if err != nil || got != pod.Name {
		t.Errorf("%s to its own Service %s: got %q, %v, want %s", pod.Name, addr, got, err, pod.Name)
	}
}

// DialUDP sends "ping" to addr and checks the reply is want+":ping",
// retrying until the deadline.
func DialUDP(t *testing.T, addr, want string) {
	t.Helper()
	var last error
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		got, err := udpRoundTrip(addr)
		if err == nil {
			if got != want+":ping" {
				t.Fatalf("%s: got reply %q, want %q", addr, got, want+":ping")
			}
			return
		}
		last = err
	}
	t.Fatalf("%s: no answer: %v", addr, last)
}

func udpRoundTrip(addr string) (string, error) {
	c, err := net.Dial("udp4", addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(500 * time.Millisecond))
	if _, err := c.Write([]byte("ping")); err != nil {
		return "", err
	}
	buf := make([]byte, 2048)
	n, err := c.Read(buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}

// DialRefused checks that connecting to addr is refused within timeout.
func DialRefused(t *testing.T, addr string, timeout time.Duration) {
	t.Helper()
	start := time.Now()
	c, err := net.DialTimeout("tcp4", addr, timeout)
	if err == nil {
		c.Close()
		t.Fatalf("%s: connected, want connection refused", addr)
	}
	if !errors.Is(err, unix.ECONNREFUSED) {
		t.Fatalf("%s: got %v after %v, want connection refused", addr, err, time.Since(start))
	}
}

// DialBlocked checks that connecting to addr neither succeeds nor is
// refused within timeout: the packets are dropped (from the local host a
// drop in the OUTPUT path fails the connect with EPERM).
func DialBlocked(t *testing.T, addr string, timeout time.Duration) {
	t.Helper()
	c, err := net.DialTimeout("tcp4", addr, timeout)
	if err == nil {
		c.Close()
		t.Fatalf("%s: connected, want the connection dropped", addr)
	}
	if errors.Is(err, unix.ECONNREFUSED) {
		t.Fatalf("%s: connection refused, want it dropped", addr)
	}
}

package framework

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// Kubectl is the stock kubectl the tests drive the cluster with.
const Kubectl = "/usr/lib/google-cloud-sdk/bin/kubectl.1.33"

// NodeIP is the InternalIP of a test node, on its uplink veth.
const NodeIP = "172.30.0.1"

// Node is one `svcnet server` running inside its own network namespace.
type Node struct {
	t       testing.TB
	Netns   string
	DataDir string
	cmd     *exec.Cmd
	ip      string
	// kubeconfig is the admin kubeconfig of a server node.
	kubeconfig string
	log        *syncBuffer
	done       chan error
}

// RequirePrivileges skips the test unless it runs as root with the tools
// the framework needs.
func RequirePrivileges(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("end-to-end tests need root")
	}
	for _, bin := range []string{"ip", "nft", Kubectl} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("end-to-end tests need %s: %v", bin, err)
		}
	}
}

// Binary returns the svcnet binary: $SVCNET_BINARY, bin/svcnet of the
// repository, or one built into a temporary directory.
func Binary(t testing.TB) string {
	t.Helper()
	if b := os.Getenv("SVCNET_BINARY"); b != "" {
		return b
	}
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..", "..")
	out := filepath.Join(t.TempDir(), "svcnet")
	cmd := exec.Command("go", "build", "-o", out, "./cmd/svcnet")
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	return out
}

// StartNode creates a fresh network namespace, gives it an uplink with
// NodeIP and a default route, and runs `svcnet server` with every
// component in it. Everything is removed at test cleanup.
func StartNode(t testing.TB, extraArgs ...string) *Node {
	t.Helper()
	return StartServer(t, nil, NodeIP, extraArgs...)
}

// StartServer is StartNode with the node's address ip and, when lan is
// set, its uplink plugged into lan so other nodes reach it.
func StartServer(t testing.TB, lan *LAN, ip string, extraArgs ...string) *Node {
	t.Helper()
	n := newNode(t, lan, ip)
	args := append([]string{"server", "--data-dir", n.DataDir, "--bind-address", "0.0.0.0", "--advertise-address", ip,
		"--node-name", "node1"}, extraArgs...)
	n.start(args)
	n.waitNodeReady("node1")
	return n
}

// StartAgent runs `svcnet agent` named name with address ip on lan,
// joined to server with the token the server printed.
func StartAgent(t testing.TB, lan *LAN, ip, name string, server *Node, extraArgs ...string) *Node {
	t.Helper()
	n := newNode(t, lan, ip)
	args := append([]string{"agent", "--server", "https://" + server.ip + ":6443", "--token", server.JoinToken(),
		"--node-ip", ip, "--node-name", name, "--data-dir", n.DataDir}, extraArgs...)
	n.start(args)
	// The API is reachable on loopback of the server's namespace only.
	server.waitNodeReady(name)
	return n
}

// newNode makes the node's namespace with loopback and an uplink at ip.
func newNode(t testing.TB, lan *LAN, ip string) *Node {
	t.Helper()
	RequirePrivileges(t)
	n := &Node{t: t, Netns: uniqueName("svcnet-e2e-"), DataDir: t.TempDir(), ip: ip, log: &syncBuffer{},
		done: make(chan error, 1)}
	n.kubeconfig = filepath.Join(n.DataDir, "kubeconfig.yaml")
	if out, err := exec.Command("ip", "netns", "add", n.Netns).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v: %s", err, out)
	}
	t.Cleanup(n.cleanup)
	peer := "uplink-peer"
	steps := []string{"ip link set lo up", "ip link add uplink type veth peer name " + peer}
	if lan != nil {
		peer = uniqueName("p")
		steps[1] = "ip link add uplink type veth peer name " + peer + " netns " + lan.Netns
	}
	steps = append(steps,
		"ip addr add "+ip+"/24 dev uplink",
		"ip link set uplink up",
		// A default route, as every real host has: locally originated
		// packets to a ClusterIP need a route before the proxy's DNAT.
		"ip route add default via 172.30.0.254 dev uplink")
	n.MustExec("sh", "-c", strings.Join(steps, " && "))
	if lan != nil {
		lan.plug(t, peer)
	} else {
		n.MustExec("ip", "link", "set", peer, "up")
	}
	return n
}

// start runs the svcnet binary with args inside the node's namespace.
func (n *Node) start(args []string) {
	n.t.Helper()
	n.cmd = exec.Command("ip", append([]string{"netns", "exec", n.Netns, Binary(n.t)}, args...)...)
	n.cmd.Stdout, n.cmd.Stderr = n.log, n.log
	if err := n.cmd.Start(); err != nil {
		n.t.Fatalf("start svcnet %s: %v", args[0], err)
	}
	go func() { n.done <- n.cmd.Wait() }()
}

// waitNodeReady waits for the API to answer and Node name to be Ready.
func (n *Node) waitNodeReady(name string) {
	t := n.t
	t.Helper()
	Eventually(t, 60*time.Second, func() error {
		select {
		case err := <-n.done:
			n.done <- err
			return fmt.Errorf("svcnet exited: %v", err)
		default:
		}
		_, err := n.Kubectl("get", "--raw", "/readyz")
		return err
	})
	Eventually(t, 60*time.Second, func() error {
		out, err := n.Kubectl("get", "nodes", name, "-o", "jsonpath={.status.conditions[?(@.type=='Ready')].status}")
		if err != nil || out != "True" {
			return fmt.Errorf("%s not Ready: %q %v", name, out, err)
		}
		return nil
	})
}

// JoinToken is the token `svcnet server` printed for joining agents.
func (n *Node) JoinToken() string {
	for _, line := range strings.Split(n.log.String(), "\n") {
		if i := strings.Index(line, "--token "); i >= 0 {
			return strings.Fields(line[i+len("--token "):])[0]
		}
	}
	n.t.Fatalf("no join token in the server output")
	return ""
}

// LAN is a network namespace with a bridge that node uplinks plug into,
// standing for the network between machines.
type LAN struct{ Netns string }

// NewLAN creates the namespace and its bridge; it is removed at cleanup.
func NewLAN(t testing.TB) *LAN {
	t.Helper()
	RequirePrivileges(t)
	l := &LAN{Netns: uniqueName("svcnet-lan-")}
	if out, err := exec.Command("ip", "netns", "add", l.Netns).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", l.Netns).Run() })
	if out, err := exec.Command("ip", "netns", "exec", l.Netns, "sh", "-c",
		"ip link set lo up && ip link add br0 type bridge && ip link set br0 up").CombinedOutput(); err != nil {
		t.Fatalf("lan bridge: %v: %s", err, out)
	}
	return l
}

func (l *LAN) plug(t testing.TB, dev string) {
	t.Helper()
	if out, err := exec.Command("ip", "netns", "exec", l.Netns, "sh", "-c",
		"ip link set "+dev+" master br0 && ip link set "+dev+" up").CombinedOutput(); err != nil {
		t.Fatalf("plug %s: %v: %s", dev, err, out)
	}
}

func uniqueName(prefix string) string {
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	return prefix + hex.EncodeToString(suffix)
}

// syncBuffer is a bytes.Buffer safe for the process writing to it while
// the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (n *Node) cleanup() {
	if n.cmd != nil && n.cmd.Process != nil {
		_ = n.cmd.Process.Signal(os.Interrupt)
		select {
		case <-n.done:
		case <-time.After(20 * time.Second):
			_ = n.cmd.Process.Kill()
			<-n.done
		}
	}
	if n.t.Failed() {
		n.t.Logf("svcnet server log:\n%s", n.log.String())
	}
	// Pod processes live in the namespace too; deleting it once they are
	// gone leaves nothing behind.
	_ = exec.Command("ip", "netns", "del", n.Netns).Run()
}

// Exec runs a command inside the node's network namespace.
func (n *Node) Exec(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", n.Netns}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return stdout.String(), fmt.Errorf("%s: %w: %s", strings.Join(args, " "), err, stderr.String())
		}
		return stdout.String(), err
	}
	return stdout.String(), nil
}

// MustExec is Exec that fails the test on error.
func (n *Node) MustExec(args ...string) string {
	n.t.Helper()
	out, err := n.Exec(args...)
	if err != nil {
		n.t.Fatal(err)
	}
	return out
}

// Kubectl runs stock kubectl against the node's API server.
func (n *Node) Kubectl(args ...string) (string, error) {
	full := append([]string{Kubectl, "--kubeconfig", n.kubeconfig,
		"--cache-dir", filepath.Join(n.DataDir, "kubectl-cache")}, args...)
	return n.Exec(full...)
}

// MustKubectl is Kubectl that fails the test on error.
func (n *Node) MustKubectl(args ...string) string {
	n.t.Helper()
	out, err := n.Kubectl(args...)
	if err != nil {
		n.t.Fatal(err)
	}
	return out
}

// Apply applies a manifest with kubectl.
func (n *Node) Apply(manifest string) string {
	n.t.Helper()
	f := filepath.Join(n.t.TempDir(), "manifest.yaml")
	if err := os.WriteFile(f, []byte(manifest), 0o600); err != nil {
		n.t.Fatal(err)
	}
	return n.MustKubectl("apply", "-f", f)
}

// Eventually polls cond until it returns nil or timeout passes, then
// fails t (the test or subtest that waits).
func Eventually(t testing.TB, timeout time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met after %v: %v", timeout, err)
		}
		time.Sleep(200 * time.Millisecond) // poll interval
	}
}

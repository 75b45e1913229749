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
	log     *bytes.Buffer
	done    chan error
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
	RequirePrivileges(t)
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	n := &Node{t: t, Netns: "svcnet-e2e-" + hex.EncodeToString(suffix), DataDir: t.TempDir(), log: &bytes.Buffer{},
		done: make(chan error, 1)}
	if out, err := exec.Command("ip", "netns", "add", n.Netns).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v: %s", err, out)
	}
	t.Cleanup(n.cleanup)
	setup := strings.Join([]string{
		"ip link set lo up",
		"ip link add uplink type veth peer name uplink-peer",
		"ip link set uplink-peer up",
		"ip addr add " + NodeIP + "/24 dev uplink",
		"ip link set uplink up",
		// A default route, as every real host has: locally originated
		// packets to a ClusterIP need a route before the proxy's DNAT.
		"ip route add default via 172.30.0.254 dev uplink",
	}, " && ")
	n.MustExec("sh", "-c", setup)
	args := append([]string{"netns", "exec", n.Netns, Binary(t), "server", "--data-dir", n.DataDir,
		"--bind-address", "127.0.0.1", "--advertise-address", NodeIP, "--node-name", "node1"}, extraArgs...)
	n.cmd = exec.Command("ip", args...)
	n.cmd.Stdout, n.cmd.Stderr = n.log, n.log
	if err := n.cmd.Start(); err != nil {
		t.Fatalf("start svcnet server: %v", err)
	}
	go func() { n.done <- n.cmd.Wait() }()
	Eventually(t, 60*time.Second, func() error {
		select {
		case err := <-n.done:
			n.done <- err
			return fmt.Errorf("svcnet server exited: %v", err)
		default:
		}
		_, err := n.Kubectl("get", "--raw", "/readyz")
		return err
	})
	Eventually(t, 60*time.Second, func() error {
		out, err := n.Kubectl("get", "nodes", "node1", "-o", "jsonpath={.status.conditions[?(@.type=='Ready')].status}")
		if err != nil || out != "True" {
			return fmt.Errorf("node1 not Ready: %q %v", out, err)
		}
		return nil
	})
	return n
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
	full := append([]string{Kubectl, "--kubeconfig", filepath.Join(n.DataDir, "kubeconfig.yaml"),
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

package framework

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/svcnet/svcnet/test/kubectl"
)

// NodeIP is the InternalIP of a test node, on its uplink veth.
const NodeIP = "172.30.0.1"

// Node is one machine of a test cluster: a network namespace with an
// uplink at its own address, running `svcnet server` or `svcnet agent`
// (or nothing: NewHost).
type Node struct {
	t       testing.TB
	Netns   string
	DataDir string
	ip      string
	// name is the Node object's name ("" for a host).
	name string
	// lan and peer are the LAN the uplink is plugged into and the uplink's
	// end in the LAN namespace.
	lan  *LAN
	peer string
	// server is the node an agent joined (nil for servers and hosts).
	server *Node
	args   []string
	// kubeconfig is the admin kubeconfig of a server node.
	kubeconfig string
	// kubectl is the stock kubectl binary (package test/kubectl).
	kubectl string
	log     *SyncBuffer

	mu   sync.Mutex
	proc *process
}

// process is one run of the svcnet binary.
type process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when it exited; err is set then
	err  error
}

// RequirePrivileges skips the test unless it runs as root with the tools
// the framework needs, and returns the stock kubectl to drive the cluster
// with (see package test/kubectl).
func RequirePrivileges(t testing.TB) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("end-to-end tests need root")
	}
	for _, bin := range []string{"ip", "nft"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("end-to-end tests need %s: %v", bin, err)
		}
	}
	return kubectl.Require(t)
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
	n.name = "node1"
	n.start(n.serverArgs(extraArgs))
	n.waitReady()
	return n
}

// serverArgs are the arguments of `svcnet server` on n, then extraArgs.
func (n *Node) serverArgs(extraArgs []string) []string {
	return append([]string{"server", "--data-dir", n.DataDir, "--bind-address", "0.0.0.0", "--advertise-address", n.ip,
		"--node-name", n.name}, extraArgs...)
}

// StartAgent runs `svcnet agent` named name with address ip on lan,
// joined to server with the token the server printed.
func StartAgent(t testing.TB, lan *LAN, ip, name string, server *Node, extraArgs ...string) *Node {
	t.Helper()
	n := newNode(t, lan, ip)
	n.name, n.server = name, server
	n.start(n.agentArgs(extraArgs))
	n.waitReady()
	return n
}

// agentArgs are the arguments of `svcnet agent` on n joining n.server,
// then extraArgs.
func (n *Node) agentArgs(extraArgs []string) []string {
	return append([]string{"agent", "--server", "https://" + n.server.ip + ":6443", "--token", n.server.JoinToken(),
		"--node-ip", n.ip, "--node-name", n.name, "--data-dir", n.DataDir}, extraArgs...)
}

// NewHost makes a machine on lan at ip that runs no svcnet: a client
// outside the cluster. It is removed at test cleanup.
func NewHost(t testing.TB, lan *LAN, ip string) *Node {
	t.Helper()
	return newNode(t, lan, ip)
}

// IP is the node's address on its uplink.
func (n *Node) IP() string { return n.ip }

// Name is the node's Node object name ("" for a host).
func (n *Node) Name() string { return n.name }

// MAC is the hardware address of the node's uplink.
func (n *Node) MAC() string {
	n.t.Helper()
	// ip netns exec mounts the namespace's own /sys.
	return strings.TrimSpace(n.MustExec("cat", "/sys/class/net/uplink/address"))
}

// Kill ends the node's svcnet process with SIGKILL, as a crash would, and
// waits for it to exit. Pod processes it started may outlive it.
func (n *Node) Kill() {
	n.t.Helper()
	p := n.process()
	if p == nil {
		n.t.Fatalf("%s: no svcnet process to kill", n.name)
	}
	if err := p.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		n.t.Fatalf("kill %s: %v", n.name, err)
	}
	<-p.done
	n.log.Write([]byte("=== killed\n"))
}

// Restart runs svcnet again with the same arguments (and data dir) after
// Kill, and waits for the Node to be Ready.
func (n *Node) Restart() {
	n.t.Helper()
	if p := n.process(); p != nil {
		select {
		case <-p.done:
		default:
			n.t.Fatalf("%s: restart while svcnet still runs", n.name)
		}
	}
	n.log.Write([]byte("=== restarted\n"))
	n.start(n.args)
	n.waitReady()
}

// Disconnect takes the LAN end of the node's uplink down: the machine
// drops off the network (its uplink loses carrier, its routes stay).
func (n *Node) Disconnect() {
	n.t.Helper()
	n.lan.exec(n.t, "ip link set "+n.peer+" down")
}

// Reconnect undoes Disconnect.
func (n *Node) Reconnect() {
	n.t.Helper()
	n.lan.exec(n.t, "ip link set "+n.peer+" up")
}

// newNode makes the node's namespace with loopback and an uplink at ip.
func newNode(t testing.TB, lan *LAN, ip string) *Node {
	t.Helper()
	kubectlBin := RequirePrivileges(t)
	n := &Node{t: t, Netns: uniqueName("svcnet-e2e-"), DataDir: t.TempDir(), ip: ip, lan: lan, log: &SyncBuffer{},
		kubectl: kubectlBin}
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
	n.peer = peer
	if lan != nil {
		lan.exec(t, "ip link set "+peer+" master br0 && ip link set "+peer+" up")
	} else {
		n.MustExec("ip", "link", "set", peer, "up")
	}
	return n
}

// start runs the svcnet binary with args inside the node's namespace.
func (n *Node) start(args []string) {
	n.t.Helper()
	if (args[0] == "server" || args[0] == "agent") && !slices.ContainsFunc(args, func(a string) bool {
		return strings.HasPrefix(a, "--container-runtime")
	}) {
		// Pods are host processes unless a test starts a containerd
		// (StartContainerd): never a runtime the machine happens to run.
		args = append(args, "--container-runtime=process")
	}
	n.args = args
	// ip netns exec execs svcnet in place, so the process is svcnet itself.
	cmd := exec.Command("ip", append([]string{"netns", "exec", n.Netns, Binary(n.t)}, args...)...)
	var out io.Writer = n.log
	logFile, err := n.openLogFile()
	if err != nil {
		n.t.Fatal(err)
	}
	if logFile != nil {
		out = io.MultiWriter(n.log, logFile)
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		n.t.Fatalf("start svcnet %s: %v", args[0], err)
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		if logFile != nil {
			_ = logFile.Close()
		}
		close(p.done)
	}()
	n.mu.Lock()
	n.proc = p
	n.mu.Unlock()
}

// openLogFile opens $SVCNET_E2E_LOG_DIR/<node name>.log for appending, so
// a long run (hack/conformance.sh) can be followed and kept; nil when the
// variable is unset.
func (n *Node) openLogFile() (*os.File, error) {
	dir := os.Getenv("SVCNET_E2E_LOG_DIR")
	if dir == "" {
		return nil, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	return os.OpenFile(filepath.Join(dir, n.name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
}

func (n *Node) process() *process {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.proc
}

// exited returns an error once the node's svcnet process has exited.
func (n *Node) exited() error {
	p := n.process()
	if p == nil {
		return nil
	}
	select {
	case <-p.done:
		return fmt.Errorf("svcnet on %s exited: %v", n.name, p.err)
	default:
		return nil
	}
}

// waitReady waits for the API to answer and the node's Node object to be
// Ready, as seen from its server (itself for a server).
func (n *Node) waitReady() {
	n.t.Helper()
	api := n
	if n.server != nil {
		api = n.server
	}
	// The API is reachable on loopback of the server's namespace only.
	api.waitNodeReady(n.name, n)
}

// waitNodeReady waits for the API to answer and Node name to be Ready,
// failing early when the svcnet process of n or of any of also exits.
func (n *Node) waitNodeReady(name string, also ...*Node) {
	t := n.t
	t.Helper()
	exited := func() error {
		for _, m := range append([]*Node{n}, also...) {
			if err := m.exited(); err != nil {
				return err
			}
		}
		return nil
	}
	Eventually(t, 60*time.Second, func() error {
		if err := exited(); err != nil {
			return err
		}
		_, err := n.Kubectl("get", "--raw", "/readyz")
		return err
	})
	Eventually(t, 60*time.Second, func() error {
		if err := exited(); err != nil {
			return err
		}
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

// exec runs a shell command in the LAN namespace.
func (l *LAN) exec(t testing.TB, script string) {
	t.Helper()
	if l == nil {
		t.Fatalf("%q: the node is on no LAN", script)
	}
	if out, err := exec.Command("ip", "netns", "exec", l.Netns, "sh", "-c", script).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v: %s", script, err, out)
	}
}

func uniqueName(prefix string) string {
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	return prefix + hex.EncodeToString(suffix)
}

// SyncBuffer is a bytes.Buffer safe for a process writing to it while a
// test (or the bench) reads it.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (n *Node) cleanup() {
	if p := n.process(); p != nil {
		_ = p.cmd.Process.Signal(os.Interrupt)
		select {
		case <-p.done:
		case <-time.After(20 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	}
	if n.t.Failed() && n.proc != nil {
		n.t.Logf("svcnet %s log:\n%s", n.name, n.log.String())
	}
	// Pod processes of a killed svcnet outlive it; the namespace goes
	// away only after they are gone.
	if err := n.killLeftovers(); err != nil {
		n.t.Logf("%s: killing leftover processes: %v", n.Netns, err)
	}
	_ = exec.Command("ip", "netns", "del", n.Netns).Run()
}

// killLeftovers kills every process of the node: those in its network
// namespace, and those whose mount table holds something under its data
// dir (pods sit in network namespaces of their own, bind-mounted there by
// the agent in its mount namespace, which their sandboxes copied). It
// waits a little for them to go.
func (n *Node) killLeftovers() error {
	var st syscall.Stat_t
	if err := syscall.Stat(filepath.Join("/var/run/netns", n.Netns), &st); err != nil {
		return err
	}
	netns := fmt.Sprintf("net:[%d]", st.Ino)
	ownMnt, _ := os.Readlink("/proc/self/ns/mnt")
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return err
	}
	var killed []int
	var names []string
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() || zombie(pid) {
			continue // a zombie holds no namespace; its parent reaps it
		}
		dir := filepath.Join("/proc", e.Name())
		mine := false
		if l, err := os.Readlink(filepath.Join(dir, "ns", "net")); err == nil && l == netns {
			mine = true
		} else if m, err := os.Readlink(filepath.Join(dir, "ns", "mnt")); err == nil && m != ownMnt {
			// Only in another mount namespace does a mount under the data
			// dir say the process belongs to this node.
			b, _ := os.ReadFile(filepath.Join(dir, "mountinfo"))
			mine = bytes.Contains(b, []byte(n.DataDir+"/"))
		}
		if mine && syscall.Kill(pid, syscall.SIGKILL) == nil {
			killed = append(killed, pid)
			cmdline, _ := os.ReadFile(filepath.Join(dir, "cmdline"))
			names = append(names, fmt.Sprintf("%d %q", pid, bytes.ReplaceAll(bytes.TrimRight(cmdline, "\x00"), []byte{0}, []byte{' '})))
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for _, pid := range killed {
		for time.Now().Before(deadline) && syscall.Kill(pid, 0) == nil && !zombie(pid) {
			time.Sleep(20 * time.Millisecond) // poll interval for the kernel to reap
		}
	}
	if len(killed) > 0 {
		n.t.Logf("%s (%s): killed leftover processes %v", n.name, n.Netns, names)
	}
	return nil
}

// zombie reports whether pid has exited and awaits its parent's wait.
func zombie(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	// The state follows the parenthesised command name.
	i := bytes.LastIndexByte(b, ')')
	return i < 0 || i+2 >= len(b) || b[i+2] == 'Z'
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

// KubectlArgs is the command line that runs stock kubectl against the
// node's API server (inside the node's namespace), before kubectl's own
// arguments.
func (n *Node) KubectlArgs() []string {
	return []string{n.kubectl, "--kubeconfig", n.kubeconfig, "--cache-dir", filepath.Join(n.DataDir, "kubectl-cache")}
}

// Kubeconfig is the admin kubeconfig of a server node.
func (n *Node) Kubeconfig() string { return n.kubeconfig }

// Kubectl runs stock kubectl against the node's API server.
func (n *Node) Kubectl(args ...string) (string, error) {
	return n.Exec(append(n.KubectlArgs(), args...)...)
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

package framework

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// PeerBinary returns the upstream program name (kube-apiserver,
// kube-proxy, etcd, coredns) that hack/build-e2e.sh built into _output/bin
// of the repository, or into $SVCNET_PEER_BIN_DIR when set; an error says
// how to build it when it is missing.
func PeerBinary(name string) (string, error) {
	dir := os.Getenv("SVCNET_PEER_BIN_DIR")
	if dir == "" {
		_, file, _, _ := runtime.Caller(0)
		dir = filepath.Join(filepath.Dir(file), "..", "..", "..", "_output", "bin")
	}
	bin := filepath.Join(dir, name)
	if _, err := exec.LookPath(bin); err != nil {
		return "", fmt.Errorf("%s: %w (build it with hack/build-e2e.sh %s, or every peer with hack/build-e2e.sh peers)",
			name, err, name)
	}
	return bin, nil
}

// RequirePeerBinary is PeerBinary that skips the test when the binary has
// not been built.
func RequirePeerBinary(t testing.TB, name string) string {
	t.Helper()
	bin, err := PeerBinary(name)
	if err != nil {
		t.Skip(err)
	}
	return bin
}

// Process is a program other than svcnet (an upstream peer) running in a
// node's network namespace.
type Process struct {
	name    string
	cmd     *exec.Cmd
	out     *SyncBuffer
	started time.Time
	done    chan struct{} // closed when it exited; err is set then
	err     error
}

// StartProcess runs bin with args in the node's network namespace in the
// background. It is stopped (SIGTERM, then SIGKILL after 20 s) at test
// cleanup, before the namespace goes; its output is logged if the test
// failed.
func (n *Node) StartProcess(name, bin string, args ...string) *Process {
	n.t.Helper()
	// ip netns exec execs bin in place, so the pid is the program's.
	p := &Process{name: name, out: &SyncBuffer{}, done: make(chan struct{}),
		cmd: exec.Command("ip", append([]string{"netns", "exec", n.Netns, bin}, args...)...)}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	p.started = time.Now()
	if err := p.cmd.Start(); err != nil {
		n.t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	n.t.Cleanup(func() {
		p.Stop()
		if n.t.Failed() {
			n.t.Logf("%s on %s log:\n%s", name, n.Netns, p.out.String())
		}
	})
	return p
}

// Pid is the process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Started is when the process was started.
func (p *Process) Started() time.Time { return p.started }

// Output is what the process has printed so far.
func (p *Process) Output() string { return p.out.String() }

// Exited returns an error once the process has exited.
func (p *Process) Exited() error {
	select {
	case <-p.done:
		return fmt.Errorf("%s exited: %v", p.name, p.err)
	default:
		return nil
	}
}

// Stop ends the process (SIGTERM, SIGKILL after 20 s) and waits for it.
func (p *Process) Stop() {
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		_ = p.cmd.Process.Kill()
	}
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

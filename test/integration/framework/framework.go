package framework

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/svcnet/svcnet/internal/server"
	"github.com/svcnet/svcnet/test/kubectl"
)

// KubectlVersions are the older stock kubectl minor versions the kubectl
// workflow is also tested with, besides the default kubectl (package
// test/kubectl): clients within kubectl's supported version skew. A version
// whose kubectl.<minor> is not installed is skipped.
var KubectlVersions = []string{"1.32", "1.33"}

// TestServer is a running svcnet server.
type TestServer struct {
	Server     *server.Server
	DataDir    string
	Kubeconfig string
	Config     *rest.Config
	Client     kubernetes.Interface
	cacheDir   string
	cancel     context.CancelFunc
	done       chan error
}

// Options adjusts the server a test starts.
type Options struct {
	// DataDir reuses a data directory (restart tests); empty = t.TempDir().
	DataDir string
	// Modify edits the configuration before start.
	Modify func(*server.Config)
}

// Start runs a server on 127.0.0.1 with a free port and waits until it is
// ready. It is stopped at test cleanup.
func Start(t testing.TB, opts Options) *TestServer {
	t.Helper()
	dir := opts.DataDir
	if dir == "" {
		dir = t.TempDir()
	}
	cfg := server.DefaultConfig()
	cfg.DataDir = dir
	cfg.BindAddress = "127.0.0.1"
	cfg.SecurePort = 0
	cfg.Disable = []string{"agent", "controllers", "dns", "proxy"}
	if opts.Modify != nil {
		opts.Modify(&cfg)
	}
	s, err := server.New(cfg)
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ts := &TestServer{Server: s, DataDir: dir, cancel: cancel, done: make(chan error, 1), cacheDir: t.TempDir()}
	go func() { ts.done <- s.Run(ctx) }()
	t.Cleanup(ts.Stop)
	select {
	case <-s.Ready():
	case err := <-ts.done:
		t.Fatalf("server stopped before it was ready: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatalf("server not ready after 60s")
	}
	ts.Kubeconfig = s.KubeconfigPath()
	rc, err := clientcmd.BuildConfigFromFlags("", ts.Kubeconfig)
	if err != nil {
		t.Fatalf("load kubeconfig: %v", err)
	}
	ts.Config = rc
	if ts.Client, err = kubernetes.NewForConfig(rc); err != nil {
		t.Fatalf("client: %v", err)
	}
	return ts
}

// Stop stops the server and waits for it to exit.
func (ts *TestServer) Stop() {
	if ts.cancel == nil {
		return
	}
	ts.cancel()
	ts.cancel = nil
	select {
	case <-ts.done:
	case <-time.After(30 * time.Second):
	}
}

// Kubectl runs stock kubectl against the server and returns its stdout;
// stderr is in the error. version "" is the default kubectl; a minor version
// ("1.32") runs kubectl.<minor>. The test is skipped when that kubectl is not
// installed.
func (ts *TestServer) Kubectl(t testing.TB, version string, stdin string, args ...string) (string, error) {
	t.Helper()
	bin := kubectl.Require(t)
	cacheDir := filepath.Join(ts.cacheDir, "default")
	if version != "" {
		bin = kubectl.RequireVersion(t, version)
		cacheDir = filepath.Join(ts.cacheDir, version)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	full := append([]string{"--kubeconfig", ts.Kubeconfig, "--cache-dir", cacheDir}, args...)
	cmd := exec.CommandContext(ctx, bin, full...)
	cmd.Env = append(os.Environ(), "HOME="+ts.cacheDir, "KUBECTL_EXTERNAL_DIFF=")
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return stdout.String(), fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, stderr.String())
		}
		return stdout.String(), err
	}
	return stdout.String(), nil
}

// MustKubectl is Kubectl that fails the test on error.
func (ts *TestServer) MustKubectl(t testing.TB, version string, stdin string, args ...string) string {
	t.Helper()
	out, err := ts.Kubectl(t, version, stdin, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Eventually polls cond every 50ms until it returns nil or the deadline
// passes, then fails with the last error.
func Eventually(t testing.TB, timeout time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var err error
	for {
		if err = cond(); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met after %v: %v", timeout, err)
		}
		time.Sleep(50 * time.Millisecond) // poll interval, not synchronisation
	}
}

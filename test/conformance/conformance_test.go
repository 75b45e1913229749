package conformance

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/svcnet/svcnet/test/e2e/framework"
)

// Flags of TestConformance; the arguments after `--` go to e2e.test as
// they are (--ginkgo.focus=..., --ginkgo.skip=...).
var (
	e2eBinary  = flag.String("e2e-binary", "", "upstream e2e.test to run (TestConformance is skipped without it)")
	kubectlBin = flag.String("kubectl", "", "kubectl for e2e.test's --kubectl-path (default: package test/kubectl's)")
	proxyMode  = flag.String("proxy-mode", "nftables", "svcnet --proxy-mode on both nodes: nftables or iptables")
	reportDir  = flag.String("report-dir", "", "directory for junit.xml, results.md, e2e.log and the node logs")
)

// Node addresses on the LAN; the framework's routes assume 172.30.0.0/24.
const (
	serverIP = "172.30.0.1"
	agentIP  = "172.30.0.2"
)

// interruptGrace is how long e2e.test gets after SIGINT to clean up its
// namespaces and write its report before it is killed.
const interruptGrace = 2 * time.Minute

// TestConformance starts a two-node cluster (node1: svcnet server, node2:
// svcnet agent) and runs e2e.test against it from inside node1's network
// namespace, then writes results.md from the JUnit report. SIGINT or
// SIGTERM interrupts e2e.test (Ginkgo then cleans up and reports) and the
// test returns normally, so the cluster is torn down either way.
func TestConformance(t *testing.T) {
	if *e2eBinary == "" {
		t.Skip("needs -e2e-binary (run hack/conformance.sh)")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	dir := *reportDir
	if dir == "" {
		dir = t.TempDir()
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// The framework appends each node's svcnet output to <dir>/<node>.log.
	t.Setenv("SVCNET_E2E_LOG_DIR", dir)

	start := time.Now()
	lan := framework.NewLAN(t)
	server := framework.StartServer(t, lan, serverIP, "--proxy-mode", *proxyMode)
	framework.StartAgent(t, lan, agentIP, "node2", server, "--proxy-mode", *proxyMode)
	slog.Info("Started cluster", "nodes", 2, "proxyMode", *proxyMode, "seconds", time.Since(start).Seconds(),
		"netns", server.Netns)

	kubectl := *kubectlBin
	if kubectl == "" {
		kubectl = server.KubectlArgs()[0]
	}
	junitPath := filepath.Join(dir, "junit.xml")
	runErr := runE2E(ctx, server, dir, append([]string{
		"--kubeconfig", server.Kubeconfig(),
		"--provider", "skeleton",
		"--kubectl-path", kubectl,
		"--e2e-output-dir", dir,
		"--ginkgo.junit-report", junitPath,
		"--ginkgo.no-color",
	}, flag.Args()...))

	results, err := ConvertFile(junitPath, filepath.Join(dir, "results.md"))
	if err != nil {
		t.Errorf("no results: %v", err)
	}
	slog.Info("Finished e2e.test", "counts", Counts(results), "seconds", time.Since(start).Seconds(),
		"results", filepath.Join(dir, "results.md"))
	for _, r := range results {
		if r.Failed() {
			t.Logf("%s: %s: %s", r.State, r.Spec, r.Message)
		}
	}
	if runErr != nil {
		t.Errorf("e2e.test: %v", runErr)
	}
}

// runE2E runs e2e.test with args inside node n's network namespace, its
// output going to stdout and <dir>/e2e.log. When ctx ends it sends SIGINT
// and waits up to interruptGrace for e2e.test to finish.
func runE2E(ctx context.Context, n *framework.Node, dir string, args []string) error {
	logFile, err := os.Create(filepath.Join(dir, "e2e.log"))
	if err != nil {
		return err
	}
	defer logFile.Close()
	// ip netns exec execs e2e.test in place: signals reach it directly.
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", n.Netns, *e2eBinary}, args...)...)
	cmd.Dir = dir
	// A HOME of its own keeps kubectl's discovery cache out of the user's.
	cmd.Env = append(os.Environ(), "HOME="+filepath.Join(dir, "home"))
	cmd.Stdout = io.MultiWriter(os.Stdout, logFile)
	cmd.Stderr = cmd.Stdout
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = interruptGrace
	slog.Info("Running e2e.test", "args", args)
	err = cmd.Run()
	if ctx.Err() != nil {
		return fmt.Errorf("interrupted: %w", errors.Join(ctx.Err(), err))
	}
	return err
}

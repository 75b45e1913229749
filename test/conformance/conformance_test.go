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
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/svcnet/svcnet/test/e2e/framework"
	"github.com/svcnet/svcnet/test/kubectl"
)

// Flags of TestConformance; the arguments after `--` go to every e2e.test
// process as they are (--ginkgo.timeout=..., --ginkgo.v).
var (
	e2eBinary  = flag.String("e2e-binary", "", "upstream e2e.test to run (TestConformance is skipped without it)")
	kubectlBin = flag.String("kubectl", "", "kubectl for e2e.test's --kubectl-path (default: package test/kubectl's)")
	proxyMode  = flag.String("proxy-mode", "nftables", "svcnet --proxy-mode on both nodes: nftables or iptables")
	reportDir  = flag.String("report-dir", "", "directory for junit*.xml, results.md, e2e*.log and the node logs")
	focus      = flag.String("focus", `\[sig-network\].*\[Conformance\]`, "Ginkgo focus regexp")
	skip       = flag.String("skip", "", "Ginkgo skip regexp")
	parallel   = flag.Int("parallel", 1, "e2e.test processes running disjoint groups of the specs at once")
	runtime    = flag.String("container-runtime", "remote",
		"how the nodes run pods: remote (a containerd per node, pulling the suite's real images, agnhost built from upstream's source, from a registry on the node's loopback) or process (svcnet's stand-ins)")
	prepare = flag.Bool("prepare-images", false, "TestPrepareImages builds the test images (run outside a network namespace: it downloads modules)")
)

// TestPrepareImages builds and caches the images the suite pulls, agnhost
// included, before TestConformance runs in a namespace without a network.
func TestPrepareImages(t *testing.T) {
	if !*prepare {
		t.Skip("needs -prepare-images (run by hack/conformance.sh)")
	}
	start := time.Now()
	imgs := framework.TestImagesWithAgnhost(t)
	slog.Info("Built test images", "images", len(imgs), "seconds", time.Since(start).Seconds())
}

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
// namespace, then writes results.md from the JUnit reports. SIGINT or
// SIGTERM interrupts e2e.test (Ginkgo then cleans up and reports) and the
// test returns normally, so the cluster is torn down either way.
//
// With -parallel N, a dry run lists the focused specs, N processes run
// disjoint groups of them at once, and the serial specs run afterwards on
// their own.
func TestConformance(t *testing.T) {
	if *e2eBinary == "" {
		t.Skip("needs -e2e-binary (run hack/conformance.sh)")
	}
	if *parallel < 1 {
		t.Fatalf("-parallel %d: want at least 1", *parallel)
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
	var server *framework.Node
	switch *runtime {
	case "remote":
		framework.RequireContainerd(t)
		imgs := framework.TestImagesWithAgnhost(t)
		server = framework.StartServerWithContainerd(t, lan, serverIP, imgs, "--proxy-mode", *proxyMode)
		framework.StartAgentWithContainerd(t, lan, agentIP, "node2", server, imgs, "--proxy-mode", *proxyMode)
	case "process":
		server = framework.StartServer(t, lan, serverIP, "--proxy-mode", *proxyMode)
		framework.StartAgent(t, lan, agentIP, "node2", server, "--proxy-mode", *proxyMode)
	default:
		t.Fatalf("-container-runtime %q: want remote or process", *runtime)
	}
	slog.Info("Started cluster", "nodes", 2, "proxyMode", *proxyMode, "containerRuntime", *runtime,
		"seconds", time.Since(start).Seconds(), "netns", server.Netns)

	kubectlPath := *kubectlBin
	if kubectlPath == "" {
		kubectlPath = kubectl.Require(t)
	}
	r := runner{node: server, dir: dir, args: append([]string{
		"--kubeconfig", server.Kubeconfig(),
		"--provider", "skeleton",
		"--kubectl-path", kubectlPath,
		"--e2e-output-dir", dir,
		"--ginkgo.no-color",
		// Thousands of filtered-out specs would each print an "S".
		"--ginkgo.silence-skips",
	}, flag.Args()...)}

	var junits []string
	var runErr error
	if *parallel == 1 {
		junits = []string{filepath.Join(dir, "junit.xml")}
		runErr = r.run(ctx, "e2e", os.Stdout, append(focusArgs(), "--ginkgo.junit-report="+junits[0])...)
	} else {
		junits, runErr = r.runSharded(ctx, *parallel)
	}

	var results []Result
	for _, j := range junits {
		f, err := os.Open(j)
		if err != nil {
			t.Errorf("no results: %v", err)
			continue
		}
		rs, err := ReadResults(f)
		f.Close()
		if err != nil {
			t.Errorf("%s: %v", j, err)
		}
		results = append(results, rs...)
	}
	if err := writeMarkdown(filepath.Join(dir, "results.md"), results); err != nil {
		t.Error(err)
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

// runSharded lists the focused specs with a dry run, runs n groups of them
// in parallel, then the serial ones, and returns the JUnit reports.
func (r runner) runSharded(ctx context.Context, n int) ([]string, error) {
	listing := filepath.Join(r.dir, "dry-run.json")
	if err := r.run(ctx, "dry-run", nil, append(focusArgs(), "--ginkgo.dry-run",
		"--ginkgo.json-report="+listing)...); err != nil {
		return nil, fmt.Errorf("dry run: %w", err)
	}
	f, err := os.Open(listing)
	if err != nil {
		return nil, err
	}
	groups, serial, err := Shards(f, n)
	f.Close()
	if err != nil {
		return nil, err
	}
	slog.Info("Split the specs", "groups", len(groups), "serial", serial != "")
	var junits []string
	errs := make([]error, len(groups))
	var wg sync.WaitGroup
	for i, focus := range groups {
		name := "e2e-" + strconv.Itoa(i+1)
		junit := filepath.Join(r.dir, "junit-"+strconv.Itoa(i+1)+".xml")
		junits = append(junits, junit)
		wg.Go(func() {
			errs[i] = r.run(ctx, name, nil, "--ginkgo.focus="+focus, "--ginkgo.junit-report="+junit)
		})
	}
	wg.Wait()
	err = errors.Join(errs...)
	if serial != "" && ctx.Err() == nil {
		junit := filepath.Join(r.dir, "junit-serial.xml")
		junits = append(junits, junit)
		err = errors.Join(err, r.run(ctx, "e2e-serial", nil, "--ginkgo.focus="+serial, "--ginkgo.junit-report="+junit))
	}
	return junits, err
}

// focusArgs are the Ginkgo arguments for -focus and -skip.
func focusArgs() []string {
	args := []string{"--ginkgo.focus=" + *focus}
	// An empty skip regexp would match, and so skip, every spec.
	if *skip != "" {
		args = append(args, "--ginkgo.skip="+*skip)
	}
	return args
}

// runner runs e2e.test inside a node's network namespace.
type runner struct {
	node *framework.Node
	dir  string
	// args go to every run, before the run's own.
	args []string
}

// run runs e2e.test with r.args and args, its output going to
// <dir>/<name>.log and to also unless nil. Each run has a HOME of its own,
// which keeps kubectl's discovery cache apart. When ctx ends it sends
// SIGINT and waits up to interruptGrace for e2e.test to finish.
func (r runner) run(ctx context.Context, name string, also io.Writer, args ...string) error {
	logFile, err := os.Create(filepath.Join(r.dir, name+".log"))
	if err != nil {
		return err
	}
	defer logFile.Close()
	args = append(append([]string{}, r.args...), args...)
	// ip netns exec execs e2e.test in place: signals reach it directly.
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", r.node.Netns, *e2eBinary}, args...)...)
	cmd.Dir = r.dir
	cmd.Env = append(os.Environ(), "HOME="+filepath.Join(r.dir, "home", name))
	cmd.Stdout = logFile
	if also != nil {
		cmd.Stdout = io.MultiWriter(also, logFile)
	}
	cmd.Stderr = cmd.Stdout
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = interruptGrace
	slog.Info("Running e2e.test", "run", name, "log", logFile.Name())
	err = cmd.Run()
	if ctx.Err() != nil {
		return fmt.Errorf("%s interrupted: %w", name, errors.Join(ctx.Err(), err))
	}
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// writeMarkdown writes the results table to path.
func writeMarkdown(path string, results []Result) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := WriteMarkdown(f, results); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

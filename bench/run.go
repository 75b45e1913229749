package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/svcnet/svcnet/test/e2e/framework"
)

// RunConfig is what `bench run` measures and where it writes the report.
type RunConfig struct {
	Modes    []string
	Out      string
	Self     string // this binary, re-executed inside the node's namespace
	Conns    int
	Warmup   time.Duration
	Duration time.Duration
	Rounds   int
	Services int
	Samples  int
}

// Report is the JSON document written to bench/out/results.json.
type Report struct {
	Started  time.Time    `json:"started"`
	Seconds  float64      `json:"seconds"`
	Host     Host         `json:"host"`
	Settings Settings     `json:"settings"`
	Modes    []ModeResult `json:"modes"`
}

// Host describes the machine the figures come from.
type Host struct {
	CPUs   int    `json:"cpus"`
	Kernel string `json:"kernel"`
	Go     string `json:"go"`
}

// Settings are the load parameters of the run.
type Settings struct {
	Conns           int     `json:"conns"`
	WarmupSeconds   float64 `json:"warmupSeconds"`
	DurationSeconds float64 `json:"durationSeconds"`
	Rounds          int     `json:"rounds"`
	Services        int     `json:"services"`
	Samples         int     `json:"samples"`
}

// ModeResult holds every figure of one proxy mode.
type ModeResult struct {
	Mode     string          `json:"mode"`
	Paths    []PathResult    `json:"paths"`
	Populate *PopulateResult `json:"populate,omitempty"`
	Program  *ProgramResult  `json:"program,omitempty"`
	DNS      []DNSResult     `json:"dns,omitempty"`
	Error    string          `json:"error,omitempty"`
}

// PathResult is one way to reach the backend pod: requests on kept-alive
// connections and requests each on a new connection, with rates as a
// ratio of the direct path's.
type PathResult struct {
	Path          string  `json:"path"`
	Target        string  `json:"target"`
	Skipped       string  `json:"skipped,omitempty"`
	KeepAlive     *Result `json:"keepAlive,omitempty"`
	NewConn       *Result `json:"newConn,omitempty"`
	RatioReqs     float64 `json:"ratioReqsVsDirect,omitempty"`
	RatioNewConns float64 `json:"ratioNewConnsVsDirect,omitempty"`
}

// DNSResult is the DNS load against one server address.
type DNSResult struct {
	Via     string  `json:"via"`
	Server  string  `json:"server"`
	Skipped string  `json:"skipped,omitempty"`
	Result  *Result `json:"result,omitempty"`
	Ratio   float64 `json:"ratioVsDirect,omitempty"`
}

// clusterDNS is the kube-dns ClusterIP of `svcnet server` (--cluster-dns).
const clusterDNS = "10.96.0.10"

const benchManifest = `apiVersion: v1
kind: Pod
metadata:
  name: web-a
  labels: {app: web}
spec:
  nodeName: node1
  containers:
  - name: netexec
    image: registry.k8s.io/e2e-test-images/agnhost:2.53
    args: [netexec, --http-port=8080]
    ports:
    - {name: http, containerPort: 8080}
    readinessProbe:
      httpGet: {path: /readyz, port: 8080}
      periodSeconds: 1
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  type: LoadBalancer
  selector: {app: web}
  ports:
  - {name: http, port: 80, targetPort: http}
`

// lbPool is the LoadBalancer IP pool of the bench node.
const lbPool = "172.30.0.240/28"

func run(cfg RunConfig) (*Report, error) {
	rep := &Report{
		Started: time.Now().UTC(),
		Host:    Host{CPUs: runtime.NumCPU(), Kernel: kernel(), Go: runtime.Version()},
		Settings: Settings{Conns: cfg.Conns, WarmupSeconds: cfg.Warmup.Seconds(),
			DurationSeconds: cfg.Duration.Seconds(), Rounds: cfg.Rounds, Services: cfg.Services, Samples: cfg.Samples},
	}
	var firstErr error
	for _, mode := range cfg.Modes {
		mr, err := runModeGuarded(cfg, mode)
		if err != nil {
			mr.Error = err.Error()
			if firstErr == nil {
				firstErr = fmt.Errorf("mode %s: %w", mode, err)
			}
		}
		rep.Modes = append(rep.Modes, mr)
	}
	rep.Seconds = time.Since(rep.Started).Seconds()
	return rep, firstErr
}

// runModeGuarded runs one mode on a node of its own and always tears the
// node down, also when the framework aborts with a fatal error.
func runModeGuarded(cfg RunConfig, mode string) (mr ModeResult, err error) {
	mr.Mode = mode
	t := &tb{}
	defer t.runCleanups()
	defer func() {
		if r := recover(); r != nil {
			if r != errFatal {
				panic(r)
			}
			err = errFatal
		}
	}()
	err = runMode(cfg, t, &mr)
	if err != nil {
		// Marks the run failed so the framework prints the server's log.
		t.Errorf("proxy mode %s: %v", mode, err)
	}
	return mr, err
}

func runMode(cfg RunConfig, t *tb, mr *ModeResult) error {
	slog.Info("Starting node", "proxyMode", mr.Mode)
	n := framework.StartNode(t, "--proxy-mode="+mr.Mode, "--loadbalancer-ip-pool", lbPool)
	h := helper{cfg: cfg, netns: n.Netns}
	n.Apply(benchManifest)
	framework.Eventually(t, 60*time.Second, func() error {
		out, err := n.Kubectl("get", "pod", "web-a", "-o",
			"jsonpath={.status.podIP} {.status.conditions[?(@.type=='Ready')].status}")
		if err != nil || !strings.HasSuffix(out, " True") {
			return fmt.Errorf("pod web-a not ready: %q %v", out, err)
		}
		return nil
	})
	podIP := strings.Fields(n.MustKubectl("get", "pod", "web-a", "-o", "jsonpath={.status.podIP}"))[0]
	clusterIP := n.MustKubectl("get", "svc", "web", "-o", "jsonpath={.spec.clusterIP}")
	nodePort := n.MustKubectl("get", "svc", "web", "-o", "jsonpath={.spec.ports[0].nodePort}")
	var lbIP string
	framework.Eventually(t, 30*time.Second, func() error {
		lbIP = n.MustKubectl("get", "svc", "web", "-o", "jsonpath={.status.loadBalancer.ingress[0].ip}")
		if lbIP == "" {
			return fmt.Errorf("no LoadBalancer ingress IP yet")
		}
		return nil
	})
	paths := []PathResult{
		{Path: "direct", Target: podIP + ":8080"},
		{Path: "clusterip", Target: clusterIP + ":80"},
		{Path: "nodeport", Target: framework.NodeIP + ":" + nodePort},
		{Path: "loadbalancer", Target: lbIP + ":80"},
	}
	// Every path must answer before any is measured; one a mode does not
	// serve (the userspace proxy has no LoadBalancer IPs) is reported as
	// skipped.
	var wg sync.WaitGroup
	errs := make([]error, len(paths))
	for i := range paths {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = h.run(30*time.Second, "wait", "-addr", paths[i].Target, "-timeout", "10s")
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err == nil {
			continue
		}
		if paths[i].Path == "direct" {
			return fmt.Errorf("pod does not answer: %w", err)
		}
		paths[i].Skipped = "not served in this mode on this host"
		slog.Warn("Skipped path", "proxyMode", mr.Mode, "path", paths[i].Path, "err", err)
	}
	// Rounds interleave the paths, so a slow spell of the machine hits
	// every path alike rather than the one measured at that moment.
	rounds := make(map[string][]Result)
	for round := 0; round < cfg.Rounds; round++ {
		for k := range paths {
			// Each round starts one path later, so no path is always first.
			p := &paths[(k+round)%len(paths)]
			if p.Skipped != "" {
				continue
			}
			for _, newConn := range []bool{false, true} {
				var r Result
				if err := h.runJSON(&r, "load", "-addr", p.Target, "-conns", strconv.Itoa(cfg.Conns),
					"-warmup", cfg.Warmup.String(), "-duration", cfg.Duration.String(),
					"-new-conn="+strconv.FormatBool(newConn)); err != nil {
					return fmt.Errorf("load %s: %w", p.Path, err)
				}
				key := p.Path + "/" + strconv.FormatBool(newConn)
				rounds[key] = append(rounds[key], r)
			}
		}
	}
	for i := range paths {
		p := &paths[i]
		if p.Skipped != "" {
			continue
		}
		ka, nc := combine(rounds[p.Path+"/false"]), combine(rounds[p.Path+"/true"])
		p.KeepAlive, p.NewConn = &ka, &nc
		slog.Info("Measured path", "proxyMode", mr.Mode, "path", p.Path, "reqPerSec", int(ka.PerSec),
			"p99Ms", ka.P99Ms, "newConnPerSec", int(nc.PerSec), "newConnP99Ms", nc.P99Ms, "errors", ka.Errors+nc.Errors)
	}
	direct := paths[0]
	for i := range paths {
		p := &paths[i]
		if p.Skipped != "" {
			continue
		}
		p.RatioReqs = ratio(p.KeepAlive.PerSec, direct.KeepAlive.PerSec)
		p.RatioNewConns = ratio(p.NewConn.PerSec, direct.NewConn.PerSec)
	}
	mr.Paths = paths

	// The control-plane figures need a served address per Service: the
	// ClusterIP, or the NodePort where this mode serves no ClusterIP.
	viaArgs := []string{}
	clusterIPServed := paths[1].Skipped == ""
	if !clusterIPServed {
		viaArgs = []string{"-node-ip", framework.NodeIP}
	}
	kubeconfig := filepath.Join(n.DataDir, "kubeconfig.yaml")
	var pop PopulateResult
	if err := h.runJSON(&pop, append([]string{"populate", "-kubeconfig", kubeconfig,
		"-count", strconv.Itoa(cfg.Services)}, viaArgs...)...); err != nil {
		return fmt.Errorf("populate: %w", err)
	}
	mr.Populate = &pop
	slog.Info("Created Services", "proxyMode", mr.Mode, "services", pop.Services,
		"createsPerSec", int(pop.CreatesPerSec), "allAnsweringSeconds", pop.AllAnsweringSeconds)
	var prog ProgramResult
	if err := h.runJSON(&prog, append([]string{"program", "-kubeconfig", kubeconfig,
		"-count", strconv.Itoa(cfg.Samples), "-present", strconv.Itoa(cfg.Services)}, viaArgs...)...); err != nil {
		return fmt.Errorf("program: %w", err)
	}
	mr.Program = &prog
	slog.Info("Measured Service programming", "proxyMode", mr.Mode, "p50Ms", prog.P50Ms, "maxMs", prog.MaxMs)
	// DNS straight to the server's node address, and through the proxy to
	// the kube-dns ClusterIP where this mode serves it.
	dnsTargets := []DNSResult{{Via: "direct", Server: framework.NodeIP + ":53"}}
	if clusterIPServed {
		dnsTargets = append(dnsTargets, DNSResult{Via: "clusterip", Server: clusterDNS + ":53"})
	} else {
		dnsTargets = append(dnsTargets, DNSResult{Via: "clusterip", Server: clusterDNS + ":53",
			Skipped: "ClusterIP not served in this mode on this host"})
	}
	for i := range dnsTargets {
		dt := &dnsTargets[i]
		if dt.Skipped != "" {
			continue
		}
		var d Result
		if err := h.runJSON(&d, "dns", "-addr", dt.Server, "-count", strconv.Itoa(cfg.Services),
			"-conns", strconv.Itoa(cfg.Conns), "-warmup", cfg.Warmup.String(), "-duration", (time.Duration(cfg.Rounds) * cfg.Duration).String()); err != nil {
			return fmt.Errorf("dns %s: %w", dt.Via, err)
		}
		dt.Result = &d
		dt.Ratio = ratio(d.PerSec, dnsTargets[0].Result.PerSec)
		slog.Info("Measured DNS", "proxyMode", mr.Mode, "via", dt.Via, "perSec", int(d.PerSec), "p99Ms", d.P99Ms,
			"errors", d.Errors)
	}
	mr.DNS = dnsTargets
	return nil
}

// helper re-executes this binary in one of its hidden modes inside the
// node's network namespace.
type helper struct {
	cfg   RunConfig
	netns string
}

func (h helper) run(timeout time.Duration, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", h.netns, h.cfg.Self}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s: %w: %s", args[0], err, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}

func (h helper) runJSON(v any, args ...string) error {
	out, err := h.run(5*time.Minute, args...)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(out, v); err != nil {
		return fmt.Errorf("%s output %q: %w", args[0], out, err)
	}
	return nil
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return float64(int(a/b*1000+0.5)) / 1000
}

func kernel() string {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

func splitComma(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

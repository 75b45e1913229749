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
	"slices"
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
	// Sizes are the numbers of background Services measured, in order;
	// modes not in ScaleModes measure only the first.
	Sizes      []int
	ScaleModes []string
	// Endpoints is the number of backend pods, and so of endpoints in
	// every background Service.
	Endpoints   int
	Samples     int
	ProgramGap  time.Duration
	ChurnPods   int
	ChurnRounds int
	// FullSyncWait bounds the wait for a fresh proxy's first full sync.
	FullSyncWait time.Duration
	// ServerLog prints the server's log at the end of each mode.
	ServerLog bool
	// Peers are the upstream programs compared with svcnet.
	Peers *PeersConfig
}

// Report is the JSON document written to bench/out/results.json.
type Report struct {
	Started time.Time `json:"started"`
	Seconds float64   `json:"seconds"`
	// LoadAvg is /proc/loadavg at the start and the end of the run: other
	// jobs share the machine.
	LoadAvg  []string     `json:"loadAvg"`
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
	Conns           int      `json:"conns"`
	WarmupSeconds   float64  `json:"warmupSeconds"`
	DurationSeconds float64  `json:"durationSeconds"`
	Rounds          int      `json:"rounds"`
	Sizes           []int    `json:"services"`
	ScaleModes      []string `json:"scaleModes"`
	Endpoints       int      `json:"endpointsPerService"`
	Samples         int      `json:"samples"`
	ProgramGapMs    float64  `json:"programGapMs"`
	ChurnPods       int      `json:"churnPods"`
	ChurnRounds     int      `json:"churnRounds"`
}

// ModeResult holds every figure of one proxy mode.
type ModeResult struct {
	Mode  string       `json:"mode"`
	Paths []PathResult `json:"paths"`
	Sizes []SizeResult `json:"sizes,omitempty"`
	Error string       `json:"error,omitempty"`
}

// SizeResult holds the figures measured with Services background
// Services present (each with EndpointsPerService endpoints).
type SizeResult struct {
	Services            int             `json:"services"`
	EndpointsPerService int             `json:"endpointsPerService"`
	Populate            *PopulateResult `json:"populate,omitempty"`
	API                 *APIResult      `json:"api,omitempty"`
	Program             *ProgramResult  `json:"program,omitempty"`
	Sync                *SyncResult     `json:"sync,omitempty"`
	Churn               *ChurnResult    `json:"churn,omitempty"`
	DNS                 []DNSResult     `json:"dns,omitempty"`
	Memory              *MemoryResult   `json:"memory,omitempty"`
	// Peers compare svcnet's proxy and DNS with kube-proxy and CoreDNS.
	Peers []*PeerTable `json:"peers,omitempty"`
	// LoadAvg is /proc/loadavg when this size was done.
	LoadAvg string `json:"loadAvg"`
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
			DurationSeconds: cfg.Duration.Seconds(), Rounds: cfg.Rounds, Sizes: cfg.Sizes, ScaleModes: cfg.ScaleModes,
			Endpoints: cfg.Endpoints, Samples: cfg.Samples, ProgramGapMs: ms(cfg.ProgramGap), ChurnPods: cfg.ChurnPods,
			ChurnRounds: cfg.ChurnRounds},
		LoadAvg: []string{loadAvg()},
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
	rep.LoadAvg = append(rep.LoadAvg, loadAvg())
	return rep, firstErr
}

// runModeGuarded runs one mode on a node of its own and always tears the
// node down, also when the framework aborts with a fatal error.
func runModeGuarded(cfg RunConfig, mode string) (mr ModeResult, err error) {
	mr.Mode = mode
	err = guarded(func(t *tb) error {
		err := runMode(cfg, t, &mr)
		if cfg.ServerLog {
			t.Errorf("printing the server log (-server-log)")
		}
		if err != nil {
			// Marks the run failed so the framework prints the server's log.
			t.Errorf("proxy mode %s: %v", mode, err)
		}
		return err
	})
	return mr, err
}

// guarded runs fn with a fresh tb whose cleanups (the node's teardown) run
// however fn ends, the framework's fatal abort (errFatal) included.
func guarded(fn func(t *tb) error) (err error) {
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
	return fn(t)
}

func runMode(cfg RunConfig, t *tb, mr *ModeResult) error {
	slog.Info("Starting node", "proxyMode", mr.Mode)
	// The node's uplink is on a LAN, so the component processes of the
	// memory figures can join from a second namespace.
	lan := framework.NewLAN(t)
	n := framework.StartServer(t, lan, framework.NodeIP, "--proxy-mode="+mr.Mode, "--loadbalancer-ip-pool", lbPool)
	h := helper{cfg: cfg, netns: n.Netns}
	n.Apply(benchManifest + podsManifest(cfg))
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
	if err := measurePaths(cfg, h, mr, podIP, clusterIP, nodePort, lbIP); err != nil {
		return err
	}
	// The control-plane figures need a served address per Service: the
	// ClusterIP, or the NodePort where this mode serves no ClusterIP.
	viaArgs := []string{}
	clusterIPServed := mr.Paths[1].Skipped == ""
	if !clusterIPServed {
		viaArgs = []string{"-node-ip", framework.NodeIP}
	}
	backends := waitBackends(t, n, cfg)
	n.Apply(churnServicesManifest(cfg, clusterIPServed))
	comp := &components{cfg: cfg, t: t, server: n, mode: mr.Mode}
	comp.start(lan)
	pe := &peers{cfg: cfg, pc: cfg.Peers, t: t, lan: lan, server: n, h: h, mode: mr.Mode}
	sizes := cfg.Sizes
	if !slices.Contains(cfg.ScaleModes, mr.Mode) {
		sizes = sizes[:1]
	}
	present := 0
	for _, size := range sizes {
		sr := SizeResult{Services: size, EndpointsPerService: cfg.Endpoints}
		err := measureSize(cfg, h, n, comp, &sr, present, backends, viaArgs, clusterIPServed)
		if err == nil {
			measurePeers(cfg, pe, &sr)
		}
		sr.LoadAvg = loadAvg()
		mr.Sizes = append(mr.Sizes, sr)
		if err != nil {
			return fmt.Errorf("%d Services: %w", size, err)
		}
		present = size
	}
	return nil
}

// measurePeers compares svcnet's proxy with kube-proxy in the proxy modes
// kube-proxy has, and svcnet's DNS with CoreDNS in the first mode of the
// run, with the Services of sr present.
func measurePeers(cfg RunConfig, pe *peers, sr *SizeResult) {
	if len(cfg.Peers.Peers) == 0 {
		return
	}
	if (pe.mode == "nftables" || pe.mode == "iptables") && slices.Contains(cfg.Peers.Peers, "kube-proxy") {
		sr.Peers = append(sr.Peers, pe.measureProxy(sr.Services))
	}
	if pe.mode == cfg.Modes[0] && slices.Contains(cfg.Peers.Peers, "coredns") {
		sr.Peers = append(sr.Peers, pe.measureDNS(sr.Services))
	}
}

// measurePaths measures the data plane: every path to the web pod, in
// interleaved rounds.
func measurePaths(cfg RunConfig, h helper, mr *ModeResult, podIP, clusterIP, nodePort, lbIP string) error {
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
	return nil
}

// measureSize grows the background Services from present to sr.Services
// and measures the control plane, API, DNS and memory with them present.
func measureSize(cfg RunConfig, h helper, n *framework.Node, comp *components, sr *SizeResult, present int,
	backends []string, viaArgs []string, clusterIPServed bool) error {
	kubeconfig := filepath.Join(n.DataDir, "kubeconfig.yaml")
	size := sr.Services
	var pop PopulateResult
	if err := h.runJSON(&pop, append([]string{"populate", "-kubeconfig", kubeconfig, "-from", strconv.Itoa(present),
		"-count", strconv.Itoa(size), "-backends", strings.Join(backends, ",")}, viaArgs...)...); err != nil {
		return fmt.Errorf("populate: %w", err)
	}
	sr.Populate = &pop
	slog.Info("Created Services", "services", size, "createsPerSec", int(pop.CreatesPerSec),
		"allAnsweringSeconds", pop.AllAnsweringSeconds)
	var api APIResult
	if err := h.runJSON(&api, "api", "-kubeconfig", kubeconfig, "-count", "3"); err != nil {
		return fmt.Errorf("api: %w", err)
	}
	sr.API = &api
	slog.Info("Measured lists", "services", api.Services, "listServicesMs", api.ListServicesMs,
		"listSlicesMs", api.ListSlicesMs)
	before := proxyMetrics(h)
	var prog ProgramResult
	if err := h.runJSON(&prog, append([]string{"program", "-kubeconfig", kubeconfig, "-prefix", fmt.Sprintf("probe-%d", size),
		"-count", strconv.Itoa(cfg.Samples), "-present", strconv.Itoa(size), "-gap", cfg.ProgramGap.String()},
		viaArgs...)...); err != nil {
		return fmt.Errorf("program: %w", err)
	}
	sr.Program = &prog
	afterProgram := proxyMetrics(h)
	slog.Info("Measured Service programming", "services", size, "p50Ms", prog.P50Ms, "maxMs", prog.MaxMs)
	var ch ChurnResult
	if err := h.runJSON(&ch, append([]string{"churn", "-kubeconfig", kubeconfig, "-count", strconv.Itoa(cfg.ChurnRounds)},
		viaArgs...)...); err != nil {
		return fmt.Errorf("churn: %w", err)
	}
	ch.Metric = histogramDelta(afterProgram, proxyMetrics(h), "kubeproxy_network_programming_duration_seconds")
	sr.Churn = &ch
	slog.Info("Measured readiness churn", "services", size, "p50Ms", ch.P50Ms, "p99Ms", ch.P99Ms)
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
		if err := h.runJSON(&d, "dns", "-addr", dt.Server, "-count", strconv.Itoa(size),
			"-conns", strconv.Itoa(cfg.Conns), "-warmup", cfg.Warmup.String(),
			"-duration", (time.Duration(cfg.Rounds) * cfg.Duration).String()); err != nil {
			return fmt.Errorf("dns %s: %w", dt.Via, err)
		}
		dt.Result = &d
		dt.Ratio = ratio(d.PerSec, dnsTargets[0].Result.PerSec)
		slog.Info("Measured DNS", "services", size, "via", dt.Via, "perSec", int(d.PerSec), "p99Ms", d.P99Ms,
			"errors", d.Errors)
	}
	sr.DNS = dnsTargets
	mem, syn, err := comp.measure(h)
	if err != nil {
		return fmt.Errorf("components: %w", err)
	}
	syn.Partial = histogramDelta(before, afterProgram, "kubeproxy_sync_partial_proxy_rules_duration_seconds")
	sr.Memory, sr.Sync = mem, syn
	slog.Info("Measured components", "services", size, "fullSyncMs", syn.FullSyncMs, "processes", mem.Processes)
	return nil
}

// proxyMetrics scrapes the node's proxy /metrics (nil when it fails: the
// figures derived from it are then left out).
func proxyMetrics(h helper) map[string]float64 {
	out, err := h.run(30*time.Second, "fetch", "-addr", "http://127.0.0.1:10249/metrics")
	if err != nil {
		slog.Warn("Scraped no proxy metrics", "err", err)
		return nil
	}
	return promSeries(string(out))
}

// podsManifest is the backend pods every background Service's
// EndpointSlice lists, and the churn pods, each Ready only while the file
// its exec probe tests exists (the bench's churn helper, on the node,
// creates and removes it).
func podsManifest(cfg RunConfig) string {
	var b strings.Builder
	for i := 0; i < cfg.Endpoints; i++ {
		fmt.Fprintf(&b, `---
apiVersion: v1
kind: Pod
metadata:
  name: backend-%d
  labels: {app: backend}
spec:
  nodeName: node1
  containers:
  - name: netexec
    image: registry.k8s.io/e2e-test-images/agnhost:2.53
    args: [netexec, --http-port=8080]
`, i)
	}
	for i := 0; i < cfg.ChurnPods; i++ {
		name := fmt.Sprintf("churn-%d", i)
		fmt.Fprintf(&b, `---
apiVersion: v1
kind: Pod
metadata:
  name: %s
  labels: {app: churn, churn: %s}
spec:
  nodeName: node1
  containers:
  - name: netexec
    image: registry.k8s.io/e2e-test-images/agnhost:2.53
    args: [netexec, --http-port=8080]
    readinessProbe:
      exec: {command: [/bin/sh, -c, "test -f %s"]}
      periodSeconds: 1
      failureThreshold: 1
`, name, name, readyFile(name))
	}
	return b.String()
}

// churnServicesManifest gives each churn pod a Service of its own name
// selecting it alone.
func churnServicesManifest(cfg RunConfig, clusterIPServed bool) string {
	typ := "ClusterIP"
	if !clusterIPServed {
		typ = "NodePort"
	}
	var b strings.Builder
	for i := 0; i < cfg.ChurnPods; i++ {
		fmt.Fprintf(&b, `---
apiVersion: v1
kind: Service
metadata:
  name: churn-%d
spec:
  type: %s
  selector: {churn: churn-%d}
  ports:
  - {name: http, port: 80, targetPort: 8080}
`, i, typ, i)
	}
	return b.String()
}

// waitBackends waits until every backend pod is Ready and every churn pod
// has an IP, and returns the backends' IPs.
func waitBackends(t *tb, n *framework.Node, cfg RunConfig) []string {
	var ips []string
	framework.Eventually(t, 120*time.Second, func() error {
		out, err := n.Kubectl("get", "pods", "-l", "app=backend", "-o",
			`jsonpath={range .items[*]}{.status.podIP} {.status.conditions[?(@.type=='Ready')].status}{"\n"}{end}`)
		if err != nil {
			return err
		}
		ips = nil
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			f := strings.Fields(line)
			if len(f) == 2 && f[1] == "True" {
				ips = append(ips, f[0])
			}
		}
		if len(ips) != cfg.Endpoints {
			return fmt.Errorf("%d of %d backend pods ready", len(ips), cfg.Endpoints)
		}
		out, err = n.Kubectl("get", "pods", "-l", "app=churn", "-o", "jsonpath={.items[*].status.podIP}")
		if err != nil {
			return err
		}
		if got := len(strings.Fields(out)); got != cfg.ChurnPods {
			return fmt.Errorf("%d of %d churn pods have an IP", got, cfg.ChurnPods)
		}
		return nil
	})
	return ips
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
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
	// Creating 10k Services and their slices takes minutes on a busy
	// machine.
	out, err := h.run(20*time.Minute, args...)
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

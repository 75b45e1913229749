package main

import (
	"bufio"
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/svcnet/svcnet/test/e2e/framework"
)

// MemoryResult is the memory of svcnet's processes with the Services of
// one size present.
//
// `svcnet server` runs every component in one process, so its RSS is the
// total. To split it, the per-node components also run once more each in a
// process of its own (`svcnet agent --disable ...`, joined to the server
// from a second network namespace on a LAN): the proxy alone, DNS alone,
// and the node agent alone. Each of those holds the same informer caches
// and state as the component inside the server, plus the fixed cost of a
// Go process with a client-go connection (see the agent-only process,
// whose node has no pods: it is mostly that fixed cost).
type MemoryResult struct {
	Processes []ProcessMemory `json:"processes"`
}

// ProcessMemory is one process's memory: RSS and its peak from
// /proc/<pid>/status, and the Go heap in use (go_memstats_heap_inuse_bytes
// on the process's /metrics) where the process serves one.
type ProcessMemory struct {
	Process string  `json:"process"`
	RSSMB   float64 `json:"rssMB"`
	PeakMB  float64 `json:"peakRssMB"`
	HeapMB  float64 `json:"goHeapInuseMB,omitempty"`
}

// SyncResult is how long the proxy takes to write its rules.
type SyncResult struct {
	// FullSyncMs is the first (full) sync of a freshly started proxy-only
	// process, from its kubeproxy_sync_full_proxy_rules_duration_seconds.
	FullSyncMs float64 `json:"fullSyncMs"`
	// ColdStartSeconds is from starting that process to its first sync
	// done (connecting, listing every Service and slice, writing rules).
	ColdStartSeconds float64 `json:"coldStartSeconds"`
	// NotDone says the first sync had not finished when the bench stopped
	// waiting (FullSyncMs and ColdStartSeconds are then the wait).
	NotDone bool `json:"notDone,omitempty"`
	// Partial is the server proxy's partial syncs during the
	// single-Service measurement.
	Partial *HistogramSummary `json:"partialSyncs,omitempty"`
}

// compNode is the second namespace, on the LAN of the server's, that the
// component processes run in.
const compNodeIP = "172.30.0.2"

type components struct {
	cfg    RunConfig
	t      *tb
	server *framework.Node
	mode   string
	// agent is the agent-only `svcnet agent` (framework-managed).
	agent *framework.Node
	h     helper
}

// start joins the agent-only process; it stays up for every size.
func (c *components) start(lan *framework.LAN) {
	c.agent = framework.StartAgent(c.t, lan, compNodeIP, "node2", c.server, "--disable", "proxy,dns",
		"--proxy-mode", c.mode)
	c.h = helper{cfg: c.cfg, netns: c.agent.Netns}
}

// measure runs a proxy-only and a DNS-only process next to the agent-only
// one, waits until each has synced the Services present, and reads every
// process's memory. The two are stopped again, so the next size starts
// them cold.
func (c *components) measure(serverHelper helper) (*MemoryResult, *SyncResult, error) {
	proxyProc, err := c.startAgent("bench-proxy", "agent,dns")
	if err != nil {
		return nil, nil, err
	}
	defer proxyProc.stop()
	dnsProc, err := c.startAgent("bench-dns", "agent,proxy")
	if err != nil {
		return nil, nil, err
	}
	defer func() {
		dnsProc.stop()
		// Its kube-dns endpoint would otherwise outlive it.
		_, _ = c.server.Kubectl("-n", "kube-system", "delete", "endpointslice", "kube-dns-bench-dns", "--ignore-not-found")
	}()
	sync := &SyncResult{}
	deadline := time.Now().Add(c.cfg.FullSyncWait)
	var proxyMetrics map[string]float64
	for {
		out, err := c.h.run(30*time.Second, "fetch", "-addr", "http://127.0.0.1:10249/metrics")
		if err == nil {
			proxyMetrics = promSeries(string(out))
			if proxyMetrics["kubeproxy_sync_full_proxy_rules_duration_seconds_count"] >= 1 {
				sync.ColdStartSeconds = time.Since(proxyProc.started).Seconds()
				break
			}
		}
		if proxyProc.exited() {
			return nil, nil, fmt.Errorf("proxy-only process exited: %v\n%s", err, proxyProc.out.String())
		}
		if time.Now().After(deadline) && proxyMetrics != nil {
			// Its memory is still measured, in the middle of that sync.
			sync.NotDone = true
			sync.ColdStartSeconds = time.Since(proxyProc.started).Seconds()
			slog.Warn("Proxy-only process still in its first sync", "waitedSeconds", int(sync.ColdStartSeconds))
			break
		}
		if time.Now().After(deadline.Add(time.Minute)) {
			return nil, nil, fmt.Errorf("proxy-only process serves no metrics: %v\n%s", err, proxyProc.out.String())
		}
		time.Sleep(100 * time.Millisecond) // poll interval
	}
	if !sync.NotDone {
		sync.FullSyncMs = histogramDelta(nil, proxyMetrics, "kubeproxy_sync_full_proxy_rules_duration_seconds").MeanMs
	} else {
		sync.FullSyncMs = sync.ColdStartSeconds * 1000
	}
	var dnsMetrics map[string]float64
	for {
		_, err := c.h.run(30*time.Second, "fetch", "-addr", "http://"+compNodeIP+":9153/ready")
		if err == nil {
			out, merr := c.h.run(30*time.Second, "fetch", "-addr", "http://"+compNodeIP+":9153/metrics")
			if merr == nil {
				dnsMetrics = promSeries(string(out))
				break
			}
			err = merr
		}
		if time.Now().After(deadline) || dnsProc.exited() {
			return nil, nil, fmt.Errorf("dns-only process not ready: %v\n%s", err, dnsProc.out.String())
		}
		time.Sleep(100 * time.Millisecond) // poll interval
	}
	mem := &MemoryResult{}
	serverPID, err := pidWithArg(c.server.DataDir, "server")
	if err != nil {
		return nil, nil, err
	}
	var serverHeap float64
	if out, err := serverHelper.run(30*time.Second, "fetch", "-addr", "http://127.0.0.1:10249/metrics"); err == nil {
		serverHeap = promSeries(string(out))["go_memstats_heap_inuse_bytes"]
	}
	agentPID, err := pidWithArg(c.agent.DataDir, "agent")
	if err != nil {
		return nil, nil, err
	}
	for _, p := range []struct {
		name string
		pid  int
		heap float64
	}{
		{"server (all components)", serverPID, serverHeap},
		{"agent: proxy only", proxyProc.cmd.Process.Pid, proxyMetrics["go_memstats_heap_inuse_bytes"]},
		{"agent: dns only", dnsProc.cmd.Process.Pid, dnsMetrics["go_memstats_heap_inuse_bytes"]},
		{"agent: node agent only", agentPID, 0},
	} {
		rss, peak, err := procMemory(p.pid)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", p.name, err)
		}
		mem.Processes = append(mem.Processes, ProcessMemory{Process: p.name, RSSMB: rss, PeakMB: peak, HeapMB: mb(p.heap)})
	}
	return mem, sync, nil
}

func mb(bytes float64) float64 { return float64(int(bytes/(1<<20)*10+0.5)) / 10 }

// proc is a component process the bench started itself.
type proc struct {
	cmd     *exec.Cmd
	out     *framework.SyncBuffer
	started time.Time
	done    chan struct{}
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (p *proc) stop() {
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// startAgent runs `svcnet agent` in the component namespace with the
// listed node components disabled.
func (c *components) startAgent(name, disable string) (*proc, error) {
	dir := c.t.TempDir()
	args := []string{"netns", "exec", c.agent.Netns, framework.Binary(c.t), "agent",
		"--server", "https://" + framework.NodeIP + ":6443", "--token", c.server.JoinToken(),
		"--node-ip", compNodeIP, "--node-name", name, "--data-dir", dir, "--disable", disable, "--proxy-mode", c.mode}
	p := &proc{cmd: exec.Command("ip", args...), out: &framework.SyncBuffer{}, done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	p.started = time.Now()
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() {
		_ = p.cmd.Wait()
		close(p.done)
	}()
	slog.Info("Started component process", "process", name, "disable", disable)
	return p, nil
}

// pidWithArg finds the svcnet process whose command line holds dir and
// subcommand (`ip netns exec` execs in place, but the framework keeps the
// pid to itself).
func pidWithArg(dir, subcommand string) (int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(b), "\x00")
		if len(args) > 1 && filepath.Base(args[0]) == "svcnet" && args[1] == subcommand && bytes.Contains(b, []byte(dir)) {
			return pid, nil
		}
	}
	return 0, fmt.Errorf("no svcnet %s process with %s", subcommand, dir)
}

// procMemory reads VmRSS and VmHWM (MB) of pid.
func procMemory(pid int) (rss, peak float64, err error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		kb, _ := strconv.ParseFloat(fields[1], 64)
		switch fields[0] {
		case "VmRSS:":
			rss = mb(kb * 1024)
		case "VmHWM:":
			peak = mb(kb * 1024)
		}
	}
	return rss, peak, sc.Err()
}

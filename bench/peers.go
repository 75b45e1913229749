package main

import (
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/svcnet/svcnet/test/e2e/framework"
)

// PeersConfig says which upstream peers svcnet is compared with, and how.
type PeersConfig struct {
	// Peers are the peers measured: kube-proxy, coredns, kube-apiserver.
	Peers []string
	// Rounds of each side, interleaved (svcnet, peer, peer, svcnet, ...).
	Rounds int
	// Samples is the number of single-Service changes per proxy run.
	Samples int
	// APIServices is the number of Services (each with an EndpointSlice)
	// created in every round of the API figure.
	APIServices int
	// bins are the peers' binaries and versions that were found.
	bins map[string]peerBinary
	// missing says, per wanted peer not built, why and how to build it.
	missing map[string]string
}

type peerBinary struct{ path, version string }

// PeerTable is svcnet against one upstream peer: each figure measured the
// same way on both, each side alone while measured, in interleaved rounds;
// values are the medians of the rounds.
type PeerTable struct {
	Peer    string     `json:"peer"`
	Svcnet  string     `json:"svcnet"`
	Rounds  int        `json:"rounds"`
	Skipped string     `json:"skipped,omitempty"`
	Error   string     `json:"error,omitempty"`
	Rows    []PeerRow  `json:"rows,omitempty"`
	Notes   []string   `json:"notes,omitempty"`
	side    [2][]round // per side, the rounds' figures (not in the JSON: Rows has them)
}

// PeerRow is one figure: one or two values per side (e.g. p50 and p99),
// the ratio svcnet/peer of each, and every round's values.
type PeerRow struct {
	Figure       string      `json:"figure"`
	Svcnet       []float64   `json:"svcnet"`
	Peer         []float64   `json:"peer"`
	Ratio        []float64   `json:"ratio"`
	SvcnetRounds [][]float64 `json:"svcnetRounds"`
	PeerRounds   [][]float64 `json:"peerRounds"`
	format       string
	// pooled rows hold samples in each round; their values are the median
	// and the maximum of every round's samples together.
	pooled bool
}

// round is the figures of one run of one side, by figure name.
type round map[string][]float64

// sides of a PeerTable.
const (
	svcnetSide = 0
	peerSide   = 1
)

// findPeers looks up the binaries of the wanted peers (hack/build-e2e.sh
// peers puts them in _output/bin) and their versions.
func (pc *PeersConfig) findPeers() {
	pc.bins, pc.missing = map[string]peerBinary{}, map[string]string{}
	need := map[string][]string{"kube-proxy": {"kube-proxy"}, "coredns": {"coredns"},
		"kube-apiserver": {"kube-apiserver", "etcd"}}
	for _, peer := range pc.Peers {
		for _, name := range need[peer] {
			bin, err := framework.PeerBinary(name)
			if err != nil {
				pc.missing[peer] = err.Error()
				slog.Warn("Skipping a peer: binary not built", "peer", peer, "err", err)
				break
			}
			out, _ := exec.Command(bin, "--version").CombinedOutput()
			if name == "coredns" {
				out, _ = exec.Command(bin, "-version").CombinedOutput()
			}
			pc.bins[name] = peerBinary{path: bin, version: versionOf(string(out))}
		}
	}
}

// versionOf picks the version out of a --version output ("Kubernetes
// v1.36.3", "etcd Version: 3.6.8", "CoreDNS-1.14.2").
func versionOf(out string) string {
	for _, f := range strings.FieldsFunc(out, func(r rune) bool { return r == ' ' || r == '\n' || r == '-' }) {
		v := strings.TrimPrefix(f, "v")
		if len(v) > 0 && v[0] >= '0' && v[0] <= '9' && strings.Count(v, ".") == 2 {
			return "v" + v
		}
	}
	return "(unknown version)"
}

// wants reports whether peer, one of pc.Peers, is to be measured, and if
// not why.
func (pc *PeersConfig) wants(peer string) (bool, string) {
	if why, ok := pc.missing[peer]; ok {
		return false, why
	}
	return true, ""
}

// interleave runs measure rounds times for each side, alternating which
// side goes first, and fills t's rows from the medians. measure runs one
// side alone and returns its figures.
func (t *PeerTable) interleave(rounds int, measure func(side int, r int) (round, error)) error {
	t.Rounds = rounds
	for r := 0; r < rounds; r++ {
		order := []int{svcnetSide, peerSide}
		if r%2 == 1 {
			order = []int{peerSide, svcnetSide}
		}
		for _, side := range order {
			got, err := measure(side, r)
			if err != nil {
				return fmt.Errorf("round %d, %s: %w", r, []string{t.Svcnet, t.Peer}[side], err)
			}
			t.side[side] = append(t.side[side], got)
		}
	}
	for i := range t.Rows {
		row := &t.Rows[i]
		row.SvcnetRounds, row.Svcnet = medians(t.side[svcnetSide], row.Figure, row.pooled)
		row.PeerRounds, row.Peer = medians(t.side[peerSide], row.Figure, row.pooled)
		row.Ratio = make([]float64, len(row.Svcnet))
		for j := range row.Svcnet {
			if j < len(row.Peer) {
				row.Ratio[j] = ratio(row.Svcnet[j], row.Peer[j])
			}
		}
	}
	return nil
}

// medians returns every round's values of figure and their medians, or
// for pooled figures the median and maximum of all rounds' samples.
func medians(rounds []round, figure string, pooled bool) ([][]float64, []float64) {
	var all [][]float64
	var samples []float64
	for _, r := range rounds {
		all = append(all, r[figure])
		samples = append(samples, r[figure]...)
	}
	if pooled {
		if len(samples) == 0 {
			return all, nil
		}
		return all, []float64{median(samples), slices.Max(samples)}
	}
	var med []float64
	for j := 0; len(all) > 0 && j < len(all[0]); j++ {
		var v []float64
		for _, vals := range all {
			if j < len(vals) {
				v = append(v, vals[j])
			}
		}
		med = append(med, median(v))
	}
	return all, med
}

// peerRows makes the rows of a table: figure names with the printf
// format of their values.
func peerRows(figures ...[2]string) []PeerRow {
	rows := make([]PeerRow, len(figures))
	for i, f := range figures {
		rows[i] = PeerRow{Figure: f[0], format: f[1]}
	}
	return rows
}

// Figures of the proxy table.
const (
	figChange     = "one change -> answers median / max ms"
	figFullSync   = "full sync ms (first sync, metric)"
	figColdStart  = "start -> first sync done s"
	figRSS        = "RSS MB after first sync"
	figHeap       = "Go heap MB after first sync"
	figRSSChanges = "RSS MB after the changes"
)

// Figures of the DNS table.
const (
	figDNSRate = "DNS q/s (16 clients)"
	figDNSP99  = "DNS p99 ms"
	figDNSRSS  = "RSS / Go heap MB"
)

// The peer namespaces' addresses on the LAN of the mode's server.
const (
	peerProxyIP = "172.30.0.3"
	peerDNSIP   = "172.30.0.4"
)

// peerNodes are the Node objects of the peer namespaces, as a kubelet
// would have registered them: kube-proxy reads its node's addresses there.
const peerNodes = `apiVersion: v1
kind: Node
metadata: {name: bench-peer-proxy}
---
apiVersion: v1
kind: Node
metadata: {name: bench-peer-dns}
`

// peers measures svcnet's proxy and DNS against kube-proxy and CoreDNS
// on the LAN of one mode's server, with the Services of that size present.
type peers struct {
	cfg    RunConfig
	pc     *PeersConfig
	t      *tb
	lan    *framework.LAN
	server *framework.Node
	h      helper // the server's namespace
	mode   string
	// kubeconfig is the server's admin kubeconfig with the server's LAN
	// address, for processes in other namespaces.
	kubeconfig string
	podCIDR    string
	ready      bool
}

// setup registers the peer Nodes and writes the remote kubeconfig, once
// per mode.
func (p *peers) setup() error {
	if p.ready {
		return nil
	}
	cfg, err := clientcmd.LoadFromFile(p.server.Kubeconfig())
	if err != nil {
		return fmt.Errorf("server kubeconfig: %w", err)
	}
	for _, c := range cfg.Clusters {
		c.Server = "https://" + framework.NodeIP + ":6443"
	}
	p.kubeconfig = filepath.Join(p.t.TempDir(), "kubeconfig.yaml")
	if err := clientcmd.WriteToFile(*cfg, p.kubeconfig); err != nil {
		return err
	}
	if err := os.Chmod(p.kubeconfig, 0o600); err != nil {
		return err
	}
	p.server.Apply(peerNodes)
	for name, ip := range map[string]string{"bench-peer-proxy": peerProxyIP, "bench-peer-dns": peerDNSIP} {
		if _, err := p.server.Kubectl("patch", "node", name, "--subresource=status", "--type=merge", "-p",
			fmt.Sprintf(`{"status":{"addresses":[{"type":"InternalIP","address":%q}]}}`, ip)); err != nil {
			return fmt.Errorf("node %s: %w", name, err)
		}
	}
	out, err := p.server.Kubectl("get", "node", "node1", "-o", "jsonpath={.spec.podCIDR}")
	if err != nil || out == "" {
		return fmt.Errorf("pod CIDR of node1: %q %v", out, err)
	}
	p.podCIDR, p.ready = out, true
	return nil
}

// host makes a fresh namespace at ip on the LAN for one run, with a route
// to node1's pods; t's cleanups remove it.
func (p *peers) host(t *tb, ip string) *framework.Node {
	n := framework.NewHost(t, p.lan, ip)
	n.MustExec("ip", "route", "add", p.podCIDR, "via", framework.NodeIP)
	// The address was another namespace's in the run before: the server
	// must not keep sending to that one's MAC.
	_, _ = p.server.Exec("ip", "neigh", "flush", "to", ip)
	return n
}

// measureProxy compares svcnet's proxy (`svcnet agent --kubeconfig
// --disable agent,dns`, the drop-in) with kube-proxy in the same mode, each
// in a fresh namespace of its own with the Services of the size present.
func (p *peers) measureProxy(size int) *PeerTable {
	bin := p.pc.bins["kube-proxy"]
	t := &PeerTable{Svcnet: "svcnet agent --disable agent,dns", Peer: "kube-proxy " + bin.version + " " + p.mode,
		Rows: peerRows([2]string{figChange, "%.0f"}, [2]string{figFullSync, "%.0f"}, [2]string{figColdStart, "%.1f"},
			[2]string{figRSS, "%.0f"}, [2]string{figHeap, "%.0f"}, [2]string{figRSSChanges, "%.0f"}),
		Notes: []string{"each proxy alone in a fresh namespace on the LAN, against the server's API; " +
			"one change: a Service selecting the web pod created, until its ClusterIP answers from that namespace " +
			"(every round's samples together)"}}
	t.Rows[0].pooled = true
	if ok, why := p.pc.wants("kube-proxy"); !ok {
		t.Skipped = why
		return t
	}
	if err := p.setup(); err != nil {
		t.Error = err.Error()
		return t
	}
	err := t.interleave(p.pc.Rounds, func(side, r int) (round, error) {
		var got round
		err := guarded(func(rt *tb) error {
			var err error
			got, err = p.proxyRun(rt, side, size, r)
			return err
		})
		return got, err
	})
	if err != nil {
		t.Error = err.Error()
	}
	return t
}

// proxyRun starts one proxy in a fresh namespace, waits for its first
// sync, reads its memory, measures single-Service changes and reads its
// memory again.
func (p *peers) proxyRun(t *tb, side, size, r int) (round, error) {
	n := p.host(t, peerProxyIP)
	var proc *framework.Process
	name := "svcnet"
	if side == svcnetSide {
		proc = n.StartProcess("svcnet agent", framework.Binary(t), "agent", "--kubeconfig", p.kubeconfig,
			"--hostname-override", "bench-peer-proxy", "--data-dir", t.TempDir(), "--disable", "agent,dns",
			"--proxy-mode", p.mode)
	} else {
		name = "kube-proxy"
		proc = n.StartProcess("kube-proxy", p.pc.bins["kube-proxy"].path, "--kubeconfig", p.kubeconfig,
			"--hostname-override", "bench-peer-proxy", "--proxy-mode", p.mode, "--cluster-cidr", clusterCIDR,
			// nf_conntrack_max is not the namespace's to set: leave it.
			"--conntrack-max-per-core", "0")
	}
	h := helper{cfg: p.cfg, netns: n.Netns}
	metrics, coldStart, err := waitFirstSync(h, proc, p.cfg.FullSyncWait)
	if err != nil {
		return nil, err
	}
	got := round{figColdStart: {coldStart.Seconds()},
		figFullSync: {histogramDelta(nil, metrics, "kubeproxy_sync_full_proxy_rules_duration_seconds").MeanMs},
		figHeap:     {mb(metrics["go_memstats_heap_inuse_bytes"])}}
	rss, _, err := procMemory(proc.Pid())
	if err != nil {
		return nil, err
	}
	got[figRSS] = []float64{rss}
	prefix := fmt.Sprintf("peer-%s-%d-%d", name, size, r)
	var prog ProgramResult
	perr := h.runJSON(&prog, "program", "-kubeconfig", p.kubeconfig, "-prefix", prefix,
		"-count", strconv.Itoa(p.pc.Samples), "-present", strconv.Itoa(size), "-gap", p.cfg.ProgramGap.String())
	// The next run must see the same Services as this one.
	names := make([]string, p.pc.Samples)
	for i := range names {
		names[i] = fmt.Sprintf("%s-%d", prefix, i)
	}
	if _, err := p.server.Kubectl(append([]string{"delete", "svc", "--ignore-not-found", "--wait=false"}, names...)...); err != nil {
		slog.Warn("Deleted no probe Services", "err", err)
	}
	if perr != nil {
		return nil, fmt.Errorf("program: %w\n%s", perr, tail(proc.Output(), 20))
	}
	got[figChange] = prog.SamplesMs
	if rss, _, err = procMemory(proc.Pid()); err != nil {
		return nil, err
	}
	got[figRSSChanges] = []float64{rss}
	slog.Info("Measured a proxy", "proxy", name, "mode", p.mode, "services", size, "round", r,
		"coldStartSeconds", coldStart.Seconds(), "changeP50Ms", prog.P50Ms, "rssMB", rss)
	return got, nil
}

// clusterCIDR is the pods' range of the bench's server (its default), the
// --cluster-cidr of kube-proxy as of svcnet's agent.
const clusterCIDR = "10.244.0.0/16"

// waitFirstSync polls the proxy's metrics in its namespace until its first
// full sync is done and returns them (ip_family labels dropped, as
// svcnet's have none) with the time from the process's start.
func waitFirstSync(h helper, proc *framework.Process, wait time.Duration) (map[string]float64, time.Duration, error) {
	deadline := time.Now().Add(wait)
	for {
		out, err := h.run(30*time.Second, "fetch", "-addr", "http://127.0.0.1:10249/metrics")
		if err == nil {
			m := withoutLabel(promSeries(string(out)), "ip_family")
			if m["kubeproxy_sync_full_proxy_rules_duration_seconds_count"] >= 1 {
				return m, time.Since(proc.Started()), nil
			}
		}
		if perr := proc.Exited(); perr != nil {
			return nil, 0, fmt.Errorf("%w\n%s", perr, tail(proc.Output(), 20))
		}
		if time.Now().After(deadline) {
			return nil, 0, fmt.Errorf("first sync not done after %v (%v)\n%s", wait, err, tail(proc.Output(), 20))
		}
		time.Sleep(100 * time.Millisecond) // poll interval
	}
}

// kubeadmCorefile is the Corefile kubeadm v1.36 deploys CoreDNS with
// (cmd/kubeadm/app/phases/addons/dns), for the domain cluster.local, with
// two changes for a process outside a pod: the kubernetes plugin reads
// the API through kubeconfig (%[1]s), and forward names a resolv.conf of
// the bench's (%[2]s) that points at the server's DNS rather than the
// host's resolvers. No benchmark query leaves the cluster domain.
const kubeadmCorefile = `.:53 {
    errors
    health {
       lameduck 5s
    }
    ready
    kubernetes cluster.local in-addr.arpa ip6.arpa {
       kubeconfig %[1]s svcnet
       pods insecure
       fallthrough in-addr.arpa ip6.arpa
       ttl 30
    }
    prometheus :9153
    forward . %[2]s {
       max_concurrent 1000
    }
    cache 30 {
       disable success cluster.local
       disable denial cluster.local
    }
    loop
    reload
    loadbalance
}
`

// measureDNS compares svcnet's DNS (`svcnet agent --kubeconfig --disable
// agent,proxy`) with CoreDNS running kubeadm's Corefile, each in a fresh
// namespace, loaded from the server's namespace.
func (p *peers) measureDNS(size int) *PeerTable {
	bin := p.pc.bins["coredns"]
	t := &PeerTable{Svcnet: "svcnet agent --disable agent,proxy", Peer: "CoreDNS " + bin.version + " (kubeadm's Corefile)",
		Rows: peerRows([2]string{figDNSRate, "%.0f"}, [2]string{figDNSP99, "%.2f"}, [2]string{figDNSRSS, "%.0f"}),
		Notes: []string{"A queries for random svc-N.default.svc.cluster.local from the server's namespace to the DNS " +
			"namespace's address; kubeadm's cache 30 caches no answer of cluster.local"}}
	if ok, why := p.pc.wants("coredns"); !ok {
		t.Skipped = why
		return t
	}
	if err := p.setup(); err != nil {
		t.Error = err.Error()
		return t
	}
	err := t.interleave(p.pc.Rounds, func(side, r int) (round, error) {
		var got round
		err := guarded(func(rt *tb) error {
			var err error
			got, err = p.dnsRun(rt, side, size, r)
			return err
		})
		if side == svcnetSide {
			// Its kube-dns endpoint would otherwise outlive it.
			_, _ = p.server.Kubectl("-n", "kube-system", "delete", "endpointslice", "kube-dns-bench-peer-dns",
				"--ignore-not-found")
		}
		return got, err
	})
	if err != nil {
		t.Error = err.Error()
	}
	return t
}

// dnsRun starts one DNS server in a fresh namespace, waits until it is
// ready, loads it and reads its memory.
func (p *peers) dnsRun(t *tb, side, size, r int) (round, error) {
	n := p.host(t, peerDNSIP)
	var proc *framework.Process
	name, readyURL := "svcnet", "http://"+peerDNSIP+":9153/ready"
	if side == svcnetSide {
		proc = n.StartProcess("svcnet agent", framework.Binary(t), "agent", "--kubeconfig", p.kubeconfig,
			"--hostname-override", "bench-peer-dns", "--data-dir", t.TempDir(), "--disable", "agent,proxy")
	} else {
		name, readyURL = "coredns", "http://127.0.0.1:8181/ready"
		dir := t.TempDir()
		resolv, corefile := filepath.Join(dir, "resolv.conf"), filepath.Join(dir, "Corefile")
		if err := os.WriteFile(resolv, []byte("nameserver "+framework.NodeIP+"\n"), 0o644); err != nil {
			return nil, err
		}
		if err := os.WriteFile(corefile, []byte(fmt.Sprintf(kubeadmCorefile, p.kubeconfig, resolv)), 0o644); err != nil {
			return nil, err
		}
		proc = n.StartProcess("coredns", p.pc.bins["coredns"].path, "-conf", corefile)
	}
	h := helper{cfg: p.cfg, netns: n.Netns}
	deadline := time.Now().Add(p.cfg.FullSyncWait)
	for {
		_, err := h.run(30*time.Second, "fetch", "-addr", readyURL)
		if err == nil {
			break
		}
		if perr := proc.Exited(); perr != nil {
			return nil, fmt.Errorf("%w\n%s", perr, tail(proc.Output(), 20))
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("not ready after %v: %v\n%s", p.cfg.FullSyncWait, err, tail(proc.Output(), 20))
		}
		time.Sleep(100 * time.Millisecond) // poll interval
	}
	var d Result
	if err := p.h.runJSON(&d, "dns", "-addr", peerDNSIP+":53", "-count", strconv.Itoa(size),
		"-conns", strconv.Itoa(p.cfg.Conns), "-warmup", p.cfg.Warmup.String(),
		"-duration", (time.Duration(p.cfg.Rounds) * p.cfg.Duration).String()); err != nil {
		return nil, fmt.Errorf("dns load: %w", err)
	}
	if d.Errors > d.Ops/100 {
		return nil, fmt.Errorf("dns load: %d errors in %d answers\n%s", d.Errors, d.Ops, tail(proc.Output(), 20))
	}
	rss, _, err := procMemory(proc.Pid())
	if err != nil {
		return nil, err
	}
	var heap float64
	if out, err := h.run(30*time.Second, "fetch", "-addr", "http://"+peerDNSIP+":9153/metrics"); err == nil {
		heap = mb(promSeries(string(out))["go_memstats_heap_inuse_bytes"])
	}
	slog.Info("Measured a DNS server", "server", name, "services", size, "round", r, "perSec", int(d.PerSec),
		"p99Ms", d.P99Ms, "rssMB", rss)
	return round{figDNSRate: {d.PerSec}, figDNSP99: {d.P99Ms}, figDNSRSS: {rss, heap}}, nil
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

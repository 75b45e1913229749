package main

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/svcnet/svcnet/test/e2e/framework"
)

// Figures of the API table.
const (
	figCreates    = "creates/s (Service + EndpointSlice, 48 clients)"
	figCreateLat  = "Service create p50 / p99 ms"
	figWatchLat   = "create -> watch event p50 / p99 ms"
	figList       = "LIST all Services / EndpointSlices ms (unpaged)"
	figAPIRSS     = "RSS MB (peer: kube-apiserver + etcd)"
	figAPIRSSPeak = "peak RSS MB"
)

// apiBackends are the endpoint addresses of the API figure's slices
// (TEST-NET-1): no proxy runs, nothing connects to them.
func apiBackends(n int) string {
	ips := make([]string, n)
	for i := range ips {
		ips[i] = fmt.Sprintf("192.0.2.%d", i+1)
	}
	return strings.Join(ips, ",")
}

// runAPIPeer compares svcnet's control plane (`svcnet server --disable
// agent,proxy,dns`, its controllers on) with kube-apiserver and etcd:
// each started fresh in a namespace of its own, alone on the machine,
// then APIServices Services and EndpointSlices created by 48 clients,
// three unpaged LISTs of each, and the servers' memory; rounds
// interleaved.
func runAPIPeer(cfg RunConfig) *PeerTable {
	pc := cfg.Peers
	t := &PeerTable{Svcnet: "svcnet server --disable agent,proxy,dns",
		Peer: "kube-apiserver " + pc.bins["kube-apiserver"].version + " + etcd " + pc.bins["etcd"].version,
		Rows: peerRows([2]string{figCreates, "%.0f"}, [2]string{figCreateLat, "%.1f"}, [2]string{figWatchLat, "%.1f"},
			[2]string{figList, "%.0f"}, [2]string{figAPIRSS, "%.0f"}, [2]string{figAPIRSSPeak, "%.0f"}),
		Notes: []string{fmt.Sprintf("%d Services + %d EndpointSlices (%d endpoints each) into fresh servers; "+
			"the load runs in the server's namespace", pc.APIServices, pc.APIServices, cfg.Endpoints)}}
	if ok, why := pc.wants("kube-apiserver"); !ok {
		t.Skipped = why
		return t
	}
	err := t.interleave(pc.Rounds, func(side, r int) (round, error) {
		var got round
		err := guarded(func(rt *tb) error {
			var err error
			got, err = apiRun(cfg, rt, side, r)
			return err
		})
		return got, err
	})
	if err != nil {
		t.Error = err.Error()
	}
	return t
}

// apiRun starts one fresh API server, loads it and reads its memory.
func apiRun(cfg RunConfig, t *tb, side, r int) (round, error) {
	var n *framework.Node
	var kubeconfig string
	var pids []int
	name := "svcnet"
	if side == svcnetSide {
		n = framework.StartAPIServer(t, nil, framework.NodeIP)
		kubeconfig = filepath.Join(n.DataDir, "kubeconfig.yaml")
		pid, err := pidWithArg(n.DataDir, "server")
		if err != nil {
			return nil, err
		}
		pids = []int{pid}
	} else {
		name = "kube-apiserver"
		k := framework.StartKubeAPIServer(t, nil, framework.NodeIP)
		n, kubeconfig, pids = k.Node, k.Kubeconfig(), []int{k.APIServer.Pid(), k.Etcd.Pid()}
	}
	h := helper{cfg: cfg, netns: n.Netns}
	var pop PopulateResult
	if err := h.runJSON(&pop, "populate", "-kubeconfig", kubeconfig, "-from", "0",
		"-count", strconv.Itoa(cfg.Peers.APIServices), "-backends", apiBackends(cfg.Endpoints), "-answer=false"); err != nil {
		return nil, fmt.Errorf("populate: %w", err)
	}
	var api APIResult
	if err := h.runJSON(&api, "api", "-kubeconfig", kubeconfig, "-count", "3"); err != nil {
		return nil, fmt.Errorf("api: %w", err)
	}
	var rss, peak float64
	for _, pid := range pids {
		r, p, err := procMemory(pid)
		if err != nil {
			return nil, err
		}
		rss, peak = rss+r, peak+p
	}
	slog.Info("Measured an API server", "server", name, "round", r, "createsPerSec", int(pop.CreatesPerSec),
		"listServicesMs", api.ListServicesMs, "rssMB", rss)
	return round{figCreates: {pop.CreatesPerSec}, figCreateLat: {pop.CreateP50Ms, pop.CreateP99Ms},
		figWatchLat: {pop.WatchP50Ms, pop.WatchP99Ms}, figList: {api.ListServicesMs, api.ListSlicesMs},
		figAPIRSS: {rss}, figAPIRSSPeak: {peak}}, nil
}

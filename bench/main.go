package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"time"
)

func main() {
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})))
	mode := "run"
	args := os.Args[1:]
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		mode, args = args[0], args[1:]
	}
	var err error
	switch mode {
	case "run":
		err = runMain(args)
	case "load", "dns", "populate", "program", "wait", "api", "churn", "fetch", "pods":
		err = helperMain(mode, args)
	default:
		err = fmt.Errorf("unknown mode %q (want run)", mode)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench %s: %v\n", mode, err)
		os.Exit(1)
	}
}

// helperMain runs one measurement inside the network namespace it was
// started in (by `ip netns exec`) and prints its result as JSON.
func helperMain(mode string, args []string) error {
	fs := flag.NewFlagSet(mode, flag.ContinueOnError)
	addr := fs.String("addr", "", "host:port to load (load), DNS server (dns)")
	path := fs.String("path", "/hostname", "HTTP path")
	conns := fs.Int("conns", 16, "concurrent connections or DNS clients")
	warmup := fs.Duration("warmup", 500*time.Millisecond, "warm-up, not measured")
	duration := fs.Duration("duration", 3*time.Second, "measured window")
	newConn := fs.Bool("new-conn", false, "one TCP connection per request")
	kubeconfig := fs.String("kubeconfig", "", "kubeconfig of the node's API server")
	count := fs.Int("count", 1000, "Services wanted (populate), names to query (dns), samples (program), lists (api), "+
		"rounds (churn), pods (pods)")
	from := fs.Int("from", 0, "Services already there (populate)")
	backends := fs.String("backends", "", "endpoint IPs of every background Service, comma-separated (populate)")
	prefix := fs.String("prefix", "probe", "Service name prefix (program), pod name prefix (pods)")
	gap := fs.Duration("gap", 2*time.Second, "pause between samples (program)")
	present := fs.Int("present", 0, "Services already present (program, for the report)")
	nodeIP := fs.String("node-ip", "", "reach Services on their NodePort at this address instead of the ClusterIP")
	timeout := fs.Duration("timeout", 30*time.Second, "how long to wait (wait)")
	batch := fs.Int("batch", 1, "pods created at once, each batch once the one before is Ready (pods)")
	node := fs.String("node", "node1", "Node the pods are bound to (pods)")
	answer := fs.Bool("answer", true, "wait until every new Service answers (populate)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx := context.Background()
	var out any
	switch mode {
	case "load":
		out = runLoad(LoadConfig{Addr: *addr, Path: *path, Conns: *conns, Warmup: *warmup, Duration: *duration,
			NewConn: *newConn})
	case "dns":
		out = runDNS(DNSConfig{Server: *addr, Domain: "default.svc.cluster.local", Names: *count, Workers: *conns,
			Warmup: *warmup, Duration: *duration})
	case "wait":
		d, err := firstAnswer(ctx, "http://"+*addr+*path, "", time.Now(), *timeout)
		if err != nil {
			return err
		}
		out = map[string]float64{"ms": ms(d)}
	case "fetch":
		// Prints the body of a 200 answer from URL addr.
		resp, err := (&http.Client{Timeout: 10 * time.Second}).Get(*addr)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s: status %d", *addr, resp.StatusCode)
		}
		_, err = io.Copy(os.Stdout, resp.Body)
		return err
	case "populate", "program", "api", "churn", "pods":
		client, err := newClient(*kubeconfig)
		if err != nil {
			return err
		}
		switch mode {
		case "populate":
			out, err = populate(ctx, client, *from, *count, splitComma(*backends), *nodeIP, *answer)
		case "program":
			out, err = program(ctx, client, *prefix, *count, *present, *gap, *nodeIP)
		case "api":
			out, err = apiLists(ctx, client, *count)
		case "churn":
			out, err = churn(ctx, client, *count, *nodeIP)
		case "pods":
			out, err = createPods(ctx, client, *prefix, *node, *count, *batch)
		}
		if err != nil {
			return err
		}
	}
	return json.NewEncoder(os.Stdout).Encode(out)
}

// runMain measures every proxy mode in turn, then the pods figure on each
// container runtime, prints the tables and writes the JSON report.
func runMain(args []string) (err error) {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	cfg := RunConfig{Peers: &PeersConfig{}}
	pcfg := PodsConfig{}
	var modes, only, runtimes, peerList string
	fs.StringVar(&only, "only", "", "figures to run, comma-separated: modes (every proxy-mode table), api (svcnet's "+
		"control plane against kube-apiserver), pods; empty: all")
	fs.StringVar(&peerList, "peers", "kube-proxy,coredns,kube-apiserver", "upstream peers compared with svcnet, "+
		"comma-separated (built by hack/build-e2e.sh peers; a peer not built is skipped); empty: none")
	fs.IntVar(&cfg.Peers.Rounds, "peer-rounds", 3, "interleaved rounds of svcnet and of each peer")
	fs.IntVar(&cfg.Peers.Samples, "peer-samples", 4, "single-Service changes per proxy round (svcnet and kube-proxy)")
	fs.IntVar(&cfg.Peers.APIServices, "api-services", 5000, "Services (and EndpointSlices) created per round of the api figure")
	fs.IntVar(&pcfg.Pods, "pods", 30, "pods created and measured on each container runtime (pods figure)")
	fs.IntVar(&pcfg.Batch, "pod-batch", 1, "pods created at once, each batch once the one before is Ready (pods figure)")
	fs.StringVar(&runtimes, "runtimes", "containerd,process", "container runtimes of the pods figure, comma-separated")
	fs.StringVar(&modes, "modes", "nftables,iptables,userspace", "proxy modes to measure, comma-separated")
	fs.StringVar(&cfg.Out, "out", "bench/out/results.json", "JSON report path")
	fs.IntVar(&cfg.Conns, "conns", 16, "concurrent connections per load run")
	fs.DurationVar(&cfg.Warmup, "warmup", 500*time.Millisecond, "warm-up before each measured window")
	fs.DurationVar(&cfg.Duration, "duration", time.Second, "measured window of each load run")
	fs.IntVar(&cfg.Rounds, "rounds", 5, "interleaved rounds over the paths; each figure is measured rounds x duration")
	var sizes, scaleModes string
	fs.StringVar(&sizes, "services", "1000,10000", "numbers of background Services the control-plane, API, DNS and memory "+
		"figures are measured with, comma-separated, ascending")
	fs.StringVar(&scaleModes, "scale-modes", "nftables", "proxy modes measured at every -services size; the others at the first only")
	fs.IntVar(&cfg.Endpoints, "endpoints", 10, "backend pods, listed as the endpoints of every background Service")
	fs.IntVar(&cfg.Samples, "samples", 8, "single-Service programming samples")
	fs.DurationVar(&cfg.ProgramGap, "program-gap", 2*time.Second,
		"pause between single-Service samples, so each is a lone change for the proxy's rate limiter")
	fs.DurationVar(&cfg.FullSyncWait, "full-sync-wait", 2*time.Minute,
		"how long to wait for a fresh proxy process's first full sync before reporting it as not done")
	fs.BoolVar(&cfg.ServerLog, "server-log", false, "print the server's log when a mode is done")
	fs.IntVar(&cfg.ChurnPods, "churn-pods", 10, "pods flipped between ready and unready at once")
	fs.IntVar(&cfg.ChurnRounds, "churn-rounds", 3, "readiness churn rounds (samples = churn-pods x churn-rounds)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg.Modes, cfg.ScaleModes, pcfg.Runtimes = splitComma(modes), splitComma(scaleModes), splitComma(runtimes)
	cfg.Peers.Peers = splitComma(peerList)
	for _, p := range cfg.Peers.Peers {
		if p != "kube-proxy" && p != "coredns" && p != "kube-apiserver" {
			return fmt.Errorf("-peers: unknown peer %q (want kube-proxy, coredns, kube-apiserver)", p)
		}
	}
	if cfg.Peers.Rounds < 1 || cfg.Peers.Samples < 1 || cfg.Peers.APIServices < 1 {
		return errors.New("-peer-rounds, -peer-samples and -api-services: want positive numbers")
	}
	figures := splitComma(only)
	for _, f := range figures {
		if f != "modes" && f != "api" && f != "pods" {
			return fmt.Errorf("-only %q: want modes, api, pods or a list of them", only)
		}
	}
	runModes := len(figures) == 0 || slices.Contains(figures, "modes")
	runAPIFigure := len(figures) == 0 || slices.Contains(figures, "api")
	runPodsFigure := len(figures) == 0 || slices.Contains(figures, "pods")
	if pcfg.Pods < 1 || pcfg.Batch < 1 {
		return errors.New("-pods and -pod-batch: want positive numbers")
	}
	for _, rt := range pcfg.Runtimes {
		if rt != "containerd" && rt != "process" {
			return fmt.Errorf("-runtimes: unknown runtime %q (want containerd, process)", rt)
		}
	}
	for _, s := range splitComma(sizes) {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || (len(cfg.Sizes) > 0 && n <= cfg.Sizes[len(cfg.Sizes)-1]) {
			return fmt.Errorf("-services %q: want ascending positive numbers", sizes)
		}
		cfg.Sizes = append(cfg.Sizes, n)
	}
	if len(cfg.Sizes) == 0 {
		return errors.New("-services: no size")
	}
	if os.Geteuid() != 0 {
		return errors.New("needs root (network namespaces, nftables)")
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("own path: %w", err)
	}
	cfg.Self, pcfg.Self = self, self
	cfg.Peers.findPeers()
	res := &Results{Report: &Report{Started: time.Now().UTC(), LoadAvg: []string{loadAvg()},
		Host: Host{CPUs: runtime.NumCPU(), Kernel: kernel(), Go: runtime.Version()}}}
	if runModes {
		var rep *Report
		if rep, err = run(cfg); rep != nil {
			res.Report = rep
		}
	}
	if runAPIFigure && slices.Contains(cfg.Peers.Peers, "kube-apiserver") {
		res.API = runAPIPeer(cfg)
		if res.API.Error != "" && err == nil {
			err = fmt.Errorf("api figure: %s", res.API.Error)
		}
	}
	if runPodsFigure {
		pods, perr := runPods(pcfg)
		res.Pods = pods
		if perr != nil && err == nil {
			err = perr
		}
	}
	res.Seconds = time.Since(res.Started).Seconds()
	res.LoadAvg = append(res.LoadAvg[:1], loadAvg())
	printTable(os.Stdout, res)
	if werr := writeJSON(cfg.Out, res); werr != nil && err == nil {
		err = werr
	}
	return err
}

package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
)

// Results is the JSON document of a run: the proxy modes' figures (Report,
// whose fields it shows at the top level) and the pods figure.
type Results struct {
	*Report
	// API compares svcnet's control plane with kube-apiserver and etcd.
	API  *PeerTable  `json:"api,omitempty"`
	Pods *PodsReport `json:"pods,omitempty"`
}

// printTable writes the human-readable summary of res.
func printTable(w io.Writer, res *Results) {
	rep := res.Report
	fmt.Fprintf(w, "\nsvcnet bench: %d CPUs, kernel %s, %s", rep.Host.CPUs, rep.Host.Kernel, rep.Host.Go)
	if len(rep.Modes) > 0 {
		fmt.Fprintf(w, "; %d connections, %d interleaved rounds of %gs per path", rep.Settings.Conns, rep.Settings.Rounds,
			rep.Settings.DurationSeconds)
	}
	fmt.Fprintln(w)
	for _, m := range rep.Modes {
		fmt.Fprintf(w, "\nproxy mode %s\n", m.Mode)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "path\treq/s\tp99 ms\tratio-vs-direct\tnew conn/s\tp99 ms\tratio-vs-direct\t")
		for _, p := range m.Paths {
			if p.Skipped != "" {
				fmt.Fprintf(tw, "%s\t-\t-\t-\t-\t-\t-\t  (%s)\n", p.Path, p.Skipped)
				continue
			}
			fmt.Fprintf(tw, "%s\t%.0f\t%.2f\t%.3f\t%.0f\t%.2f\t%.3f\t\n", p.Path,
				p.KeepAlive.PerSec, p.KeepAlive.P99Ms, p.RatioReqs, p.NewConn.PerSec, p.NewConn.P99Ms, p.RatioNewConns)
		}
		_ = tw.Flush()
		printSizes(w, m.Sizes)
		printPeers(w, m.Sizes)
		if m.Error != "" {
			fmt.Fprintf(w, "error: %s\n", m.Error)
		}
	}
	if res.API != nil {
		printPeerTables(w, "", []string{""}, []*PeerTable{res.API})
	}
	if res.Pods != nil {
		printPods(w, res.Pods)
	}
	fmt.Fprintf(w, "\nload average (1/5/15 min) at start %s, at end %s; total %.0fs\n", rep.LoadAvg[0],
		rep.LoadAvg[len(rep.LoadAvg)-1], rep.Seconds)
}

func writeJSON(path string, rep *Results) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("report dir: %w", err)
	}
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

// sizeRow is one line of the per-size table: its text for a size and the
// number the last-vs-first ratio is taken of (0: no ratio).
type sizeRow struct {
	label string
	cell  func(SizeResult) (string, float64)
}

// printSizes writes the control-plane, API, DNS and memory figures with one
// column per number of Services and the ratio of the last to the first.
func printSizes(w io.Writer, sizes []SizeResult) {
	if len(sizes) == 0 {
		return
	}
	rows := []sizeRow{
		{"background Services (each with N endpoints)", func(s SizeResult) (string, float64) {
			return fmt.Sprintf("%d (N=%d)", s.Services, s.EndpointsPerService), float64(s.Services)
		}},
		{"API: creates/s (Service + EndpointSlice)", func(s SizeResult) (string, float64) {
			if s.Populate == nil {
				return "-", 0
			}
			return fmt.Sprintf("%.0f", s.Populate.CreatesPerSec), s.Populate.CreatesPerSec
		}},
		{"API: Service create p50 / p99 ms", func(s SizeResult) (string, float64) {
			if s.Populate == nil {
				return "-", 0
			}
			return fmt.Sprintf("%.1f / %.1f", s.Populate.CreateP50Ms, s.Populate.CreateP99Ms), s.Populate.CreateP99Ms
		}},
		{"API: create -> watch event p50 / p99 ms", func(s SizeResult) (string, float64) {
			if s.Populate == nil {
				return "-", 0
			}
			return fmt.Sprintf("%.1f / %.1f", s.Populate.WatchP50Ms, s.Populate.WatchP99Ms), s.Populate.WatchP99Ms
		}},
		{"API: list all Services / EndpointSlices ms", func(s SizeResult) (string, float64) {
			if s.API == nil {
				return "-", 0
			}
			return fmt.Sprintf("%.0f / %.0f", s.API.ListServicesMs, s.API.ListSlicesMs), s.API.ListServicesMs
		}},
		{"API: list throughput items/s", func(s SizeResult) (string, float64) {
			if s.API == nil {
				return "-", 0
			}
			return fmt.Sprintf("%.0f", s.API.ItemsPerSec), s.API.ItemsPerSec
		}},
		{"new Services all answering after s", func(s SizeResult) (string, float64) {
			if s.Populate == nil {
				return "-", 0
			}
			return fmt.Sprintf("%.1f (%d new, %s)", s.Populate.AllAnsweringSeconds, s.Populate.Services-s.Populate.From,
				s.Populate.Via), 0
		}},
		{"create one Service -> it answers p50 / p99 ms", func(s SizeResult) (string, float64) {
			if s.Program == nil {
				return "-", 0
			}
			return fmt.Sprintf("%.0f / %.0f", s.Program.P50Ms, s.Program.P99Ms), s.Program.P50Ms
		}},
		{"proxy partial sync mean ms (syncs)", func(s SizeResult) (string, float64) {
			if s.Sync == nil || s.Sync.Partial == nil {
				return "-", 0
			}
			return fmt.Sprintf("%.1f (%.0f)", s.Sync.Partial.MeanMs, s.Sync.Partial.Count), s.Sync.Partial.MeanMs
		}},
		{"proxy full sync ms (fresh proxy process)", func(s SizeResult) (string, float64) {
			if s.Sync == nil {
				return "-", 0
			}
			if s.Sync.NotDone {
				return fmt.Sprintf("not done after %.0f", s.Sync.FullSyncMs), 0
			}
			return fmt.Sprintf("%.0f", s.Sync.FullSyncMs), s.Sync.FullSyncMs
		}},
		{"proxy start -> first sync done s", func(s SizeResult) (string, float64) {
			if s.Sync == nil {
				return "-", 0
			}
			if s.Sync.NotDone {
				return fmt.Sprintf("> %.0f", s.Sync.ColdStartSeconds), 0
			}
			return fmt.Sprintf("%.1f", s.Sync.ColdStartSeconds), s.Sync.ColdStartSeconds
		}},
		{"pod Ready -> its Service answers p50 / p99 ms", func(s SizeResult) (string, float64) {
			if s.Churn == nil {
				return "-", 0
			}
			return fmt.Sprintf("%.0f / %.0f (%d)", s.Churn.P50Ms, s.Churn.P99Ms, len(s.Churn.SamplesMs)), s.Churn.P99Ms
		}},
		{"  network_programming metric p50 / p99 <= ms", func(s SizeResult) (string, float64) {
			if s.Churn == nil || s.Churn.Metric == nil || s.Churn.Metric.Count == 0 {
				return "-", 0
			}
			m := s.Churn.Metric
			return fmt.Sprintf("%.0f / %.0f (%.0f)", m.P50Ms, m.P99Ms, m.Count), 0
		}},
	}
	for i := range sizes[0].DNS {
		rows = append(rows, sizeRow{fmt.Sprintf("DNS via %s q/s, p99 ms", sizes[0].DNS[i].Via), func(s SizeResult) (string, float64) {
			if i >= len(s.DNS) || s.DNS[i].Result == nil {
				return "-", 0
			}
			d := s.DNS[i].Result
			return fmt.Sprintf("%.0f, %.2f (%d err)", d.PerSec, d.P99Ms, d.Errors), d.PerSec
		}})
	}
	if sizes[0].Memory != nil {
		for i := range sizes[0].Memory.Processes {
			rows = append(rows, sizeRow{"RSS MB (Go heap) " + sizes[0].Memory.Processes[i].Process,
				func(s SizeResult) (string, float64) {
					if s.Memory == nil || i >= len(s.Memory.Processes) {
						return "-", 0
					}
					p := s.Memory.Processes[i]
					if p.HeapMB > 0 {
						return fmt.Sprintf("%.0f (%.0f)", p.RSSMB, p.HeapMB), p.RSSMB
					}
					return fmt.Sprintf("%.0f", p.RSSMB), p.RSSMB
				}})
		}
	}
	rows = append(rows, sizeRow{"load average when done", func(s SizeResult) (string, float64) { return s.LoadAvg, 0 }})
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, r := range rows {
		fmt.Fprintf(tw, "%s", r.label)
		var first, last float64
		for i, s := range sizes {
			c, v := r.cell(s)
			fmt.Fprintf(tw, "\t%s", c)
			if i == 0 {
				first = v
			}
			last = v
		}
		if len(sizes) > 1 && first > 0 && last > 0 {
			fmt.Fprintf(tw, "\tx%.2f", last/first)
		} else if len(sizes) > 1 {
			fmt.Fprintf(tw, "\t")
		}
		fmt.Fprintln(tw, "\t")
	}
	_ = tw.Flush()
}

// printPods writes the pods figure: one column per container runtime and
// containerd's figures over the process runtime's.
func printPods(w io.Writer, p *PodsReport) {
	how := "one at a time"
	if p.Batch > 1 {
		how = fmt.Sprintf("in batches of %d", p.Batch)
	}
	fmt.Fprintf(w, "\npods: %d pods of %s %v, created %s; each runtime on a node of its own\n", p.Pods, p.Image,
		p.Command, how)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "runtime")
	for _, r := range p.Runtimes {
		fmt.Fprintf(tw, "\t%s", r.Runtime)
	}
	fmt.Fprintln(tw, "\tcontainerd/process\t")
	row := func(label string, cell func(RuntimeResult) string, ratio string) {
		fmt.Fprintf(tw, "%s", label)
		for _, r := range p.Runtimes {
			switch {
			case r.Latency != nil:
				fmt.Fprintf(tw, "\t%s", cell(r))
			case r.Skipped != "":
				fmt.Fprintf(tw, "\tskipped")
			default:
				fmt.Fprintf(tw, "\tfailed")
			}
		}
		if p.Ratio == nil {
			ratio = "-"
		}
		fmt.Fprintf(tw, "\t%s\t\n", ratio)
	}
	rt := p.Ratio
	if rt == nil {
		rt = &PodsRatio{}
	}
	row("first pod create -> Ready ms (image pull)", func(r RuntimeResult) string {
		return fmt.Sprintf("%.0f", r.Warmup.MaxMs)
	}, fmt.Sprintf("%.2f", rt.FirstPod))
	row("create -> Ready p50 / p99 / max ms", func(r RuntimeResult) string {
		return fmt.Sprintf("%.0f / %.0f / %.0f", r.Latency.P50Ms, r.Latency.P99Ms, r.Latency.MaxMs)
	}, fmt.Sprintf("%.2f / %.2f / %.2f", rt.P50, rt.P99, rt.Max))
	row(fmt.Sprintf("all %d Ready after s", p.Pods), func(r RuntimeResult) string {
		return fmt.Sprintf("%.1f", r.Latency.AllReadySeconds)
	}, "")
	row("node RSS MB before -> after (processes)", func(r RuntimeResult) string {
		return fmt.Sprintf("%.0f (%d) -> %.0f (%d)", r.Before.RSSMB, r.Before.Processes, r.After.RSSMB, r.After.Processes)
	}, "")
	row("RSS per pod MB", func(r RuntimeResult) string { return fmt.Sprintf("%.1f", r.RSSPerPodMB) },
		fmt.Sprintf("%.2f", rt.RSSPerPod))
	row("PSS per pod MB (shared pages split)", func(r RuntimeResult) string { return fmt.Sprintf("%.1f", r.PSSPerPodMB) },
		fmt.Sprintf("%.2f", rt.PSSPerPod))
	row("RSS anon per pod MB (not file-backed)", func(r RuntimeResult) string {
		return fmt.Sprintf("%.1f", r.AnonPerPodMB)
	}, fmt.Sprintf("%.2f", rt.AnonPerPod))
	row("  RSS per pod by process MB", func(r RuntimeResult) string { return perProcess(r.RSSPerPodByProcessMB) }, "")
	row("load average when done", func(r RuntimeResult) string { return r.LoadAvg }, "")
	_ = tw.Flush()
	for _, r := range p.Runtimes {
		if r.Skipped != "" {
			fmt.Fprintf(w, "%s skipped: %s\n", r.Runtime, r.Skipped)
		}
		if r.Error != "" {
			// The first line; the JSON has the helper's whole stderr.
			fmt.Fprintf(w, "%s error: %s\n", r.Runtime, strings.SplitN(r.Error, "\n", 2)[0])
		}
	}
}

// perProcess lists the largest shares of a per-pod split, largest first.
func perProcess(m map[string]float64) string {
	names := make([]string, 0, len(m))
	for k, v := range m {
		if v >= 0.1 {
			names = append(names, k)
		}
	}
	sort.Slice(names, func(i, j int) bool { return m[names[i]] > m[names[j]] })
	if len(names) > 4 {
		names = names[:4]
	}
	parts := make([]string, len(names))
	for i, k := range names {
		parts[i] = fmt.Sprintf("%s %.1f", k, m[k])
	}
	return strings.Join(parts, ", ")
}

// printPeers writes, for one proxy mode, a table per peer with svcnet's
// value, the peer's and their ratio at each number of Services.
func printPeers(w io.Writer, sizes []SizeResult) {
	var order []string
	bySize := map[string][]*PeerTable{}
	for i, s := range sizes {
		for _, t := range s.Peers {
			if _, ok := bySize[t.Peer]; !ok {
				order = append(order, t.Peer)
				bySize[t.Peer] = make([]*PeerTable, len(sizes))
			}
			bySize[t.Peer][i] = t
		}
	}
	cols := make([]string, len(sizes))
	for i, s := range sizes {
		cols[i] = fmt.Sprintf(" @%d", s.Services)
	}
	for _, peer := range order {
		printPeerTables(w, peer, cols, bySize[peer])
	}
}

// printPeerTables writes tables (one per column, e.g. per number of
// Services; nil where not measured) as one: per figure, svcnet's value,
// the peer's and svcnet/peer for each column.
func printPeerTables(w io.Writer, peer string, cols []string, tables []*PeerTable) {
	var first *PeerTable
	for _, t := range tables {
		if t != nil && first == nil {
			first = t
		}
	}
	if first == nil {
		return
	}
	if peer == "" {
		peer = first.Peer
	}
	short := strings.Fields(peer)[0]
	fmt.Fprintf(w, "\n%s against %s: each alone while measured, %d interleaved rounds, medians; ratio = svcnet/peer\n",
		peer, first.Svcnet, first.Rounds)
	for _, n := range first.Notes {
		fmt.Fprintf(w, "  (%s)\n", n)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprint(tw, "figure")
	for _, c := range cols {
		fmt.Fprintf(tw, "\tsvcnet%s\t%s%s\tratio", c, short, c)
	}
	fmt.Fprintln(tw, "\t")
	for i, row := range first.Rows {
		fmt.Fprint(tw, row.Figure)
		for _, t := range tables {
			if t == nil || t.Skipped != "" || t.Error != "" || i >= len(t.Rows) {
				fmt.Fprint(tw, "\t-\t-\t-")
				continue
			}
			r := t.Rows[i]
			fmt.Fprintf(tw, "\t%s\t%s\t%s", joinValues(r.Svcnet, r.format), joinValues(r.Peer, r.format),
				joinValues(r.Ratio, "%.3g"))
		}
		fmt.Fprintln(tw, "\t")
	}
	_ = tw.Flush()
	for i, t := range tables {
		switch {
		case t == nil:
		case t.Skipped != "":
			fmt.Fprintf(w, "%s%s skipped: %s\n", short, cols[i], t.Skipped)
		case t.Error != "":
			fmt.Fprintf(w, "%s%s error: %s\n", short, cols[i], strings.SplitN(t.Error, "\n", 2)[0])
		}
	}
}

// joinValues formats values with format, " / " between them.
func joinValues(values []float64, format string) string {
	if len(values) == 0 {
		return "-"
	}
	parts := make([]string, len(values))
	for i, v := range values {
		parts[i] = fmt.Sprintf(format, v)
	}
	return strings.Join(parts, " / ")
}

package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"text/tabwriter"
)

// printTable writes the human-readable summary of rep.
func printTable(w io.Writer, rep *Report) {
	fmt.Fprintf(w, "\nsvcnet bench: %d CPUs, kernel %s, %s; %d connections, %d interleaved rounds of %gs per path\n",
		rep.Host.CPUs, rep.Host.Kernel, rep.Host.Go, rep.Settings.Conns, rep.Settings.Rounds, rep.Settings.DurationSeconds)
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
		if p := m.Populate; p != nil {
			fmt.Fprintf(w, "control plane: %d Services created in %.1fs (%.0f/s), all answering (%s) after %.1fs\n",
				p.Services, p.CreateSeconds, p.CreatesPerSec, p.Via, p.AllAnsweringSeconds)
		}
		if p := m.Program; p != nil {
			fmt.Fprintf(w, "control plane: create one Service -> it answers (%s), %d present: p50 %.1f ms, max %.1f ms (%d samples)\n",
				p.Via, p.Present, p.P50Ms, p.MaxMs, p.Samples)
		}
		for _, d := range m.DNS {
			if d.Skipped != "" {
				fmt.Fprintf(w, "dns via %-9s %-15s: skipped (%s)\n", d.Via, d.Server, d.Skipped)
				continue
			}
			fmt.Fprintf(w, "dns via %-9s %-15s: %.0f queries/s, p99 %.2f ms, ratio-vs-direct %.3f, %d errors (svc-N.default.svc.cluster.local A, %d Services)\n",
				d.Via, d.Server, d.Result.PerSec, d.Result.P99Ms, d.Ratio, d.Result.Errors, rep.Settings.Services)
		}
		if m.Error != "" {
			fmt.Fprintf(w, "error: %s\n", m.Error)
		}
	}
	fmt.Fprintf(w, "\ntotal %.0fs\n", rep.Seconds)
}

func writeJSON(path string, rep *Report) error {
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

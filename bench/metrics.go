package main

import (
	"bufio"
	"math"
	"sort"
	"strconv"
	"strings"
)

// promSeries parses the Prometheus text format into series (name with its
// label set, as written) -> value.
func promSeries(text string) map[string]float64 {
	out := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		out[line[:i]] = v
	}
	return out
}

// HistogramSummary describes the observations a histogram gained between
// two scrapes. Percentiles are bucket upper bounds (the histogram's
// resolution), so P50Ms 250 means "within the first bucket"; -1 is
// above the last finite bucket.
type HistogramSummary struct {
	Count  float64 `json:"count"`
	MeanMs float64 `json:"meanMs"`
	P50Ms  float64 `json:"p50LeMs"`
	P99Ms  float64 `json:"p99LeMs"`
}

// histogramDelta summarises histogram name (in seconds) from before to
// after; before may be nil (everything since the process started).
func histogramDelta(before, after map[string]float64, name string) *HistogramSummary {
	count := after[name+"_count"] - before[name+"_count"]
	if count <= 0 {
		return &HistogramSummary{}
	}
	h := &HistogramSummary{Count: count, MeanMs: (after[name+"_sum"] - before[name+"_sum"]) / count * 1000}
	type bucket struct{ le, n float64 }
	var buckets []bucket
	prefix := name + `_bucket{le="`
	for k, v := range after {
		if !strings.HasPrefix(k, prefix) {
			continue
		}
		leStr := strings.TrimSuffix(strings.TrimPrefix(k, prefix), `"}`)
		le := math.Inf(1)
		if leStr != "+Inf" {
			var err error
			if le, err = strconv.ParseFloat(leStr, 64); err != nil {
				continue
			}
		}
		buckets = append(buckets, bucket{le: le, n: v - before[k]})
	}
	sort.Slice(buckets, func(i, j int) bool { return buckets[i].le < buckets[j].le })
	at := func(p float64) float64 {
		for _, b := range buckets {
			if b.n >= p*count {
				if math.IsInf(b.le, 1) {
					break // JSON has no +Inf
				}
				return b.le * 1000
			}
		}
		return -1 // above the last finite bucket
	}
	h.P50Ms, h.P99Ms = at(0.5), at(0.99)
	return h
}

// withoutLabel returns series with label taken out of every series name:
// kube-proxy labels its sync histograms with ip_family, svcnet's proxy
// does not, and the figures read both alike.
func withoutLabel(series map[string]float64, label string) map[string]float64 {
	out := make(map[string]float64, len(series))
	for k, v := range series {
		name, labels, ok := strings.Cut(k, "{")
		if !ok {
			out[k] = v
			continue
		}
		var kept []string
		for _, l := range strings.Split(strings.TrimSuffix(labels, "}"), ",") {
			if l != "" && !strings.HasPrefix(l, label+"=") {
				kept = append(kept, l)
			}
		}
		if len(kept) > 0 {
			name += "{" + strings.Join(kept, ",") + "}"
		}
		out[name] += v
	}
	return out
}

package main

import (
	"sort"
	"time"
)

// Result is what one load run measured: completed operations in the
// measured window (warm-up excluded), errors, the rate and the latency
// percentiles in milliseconds.
type Result struct {
	Ops     int64   `json:"ops"`
	Errors  int64   `json:"errors"`
	Seconds float64 `json:"seconds"`
	PerSec  float64 `json:"perSec"`
	P50Ms   float64 `json:"p50Ms"`
	P99Ms   float64 `json:"p99Ms"`
	MaxMs   float64 `json:"maxMs"`
	// RoundPerSec is the rate of each round when rounds were combined.
	RoundPerSec []float64 `json:"roundPerSec,omitempty"`
}

// summarise turns per-worker latency samples into a Result.
func summarise(samples [][]time.Duration, errs int64, window time.Duration) Result {
	var all []time.Duration
	for _, s := range samples {
		all = append(all, s...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	r := Result{Ops: int64(len(all)), Errors: errs, Seconds: window.Seconds()}
	if window > 0 {
		r.PerSec = float64(len(all)) / window.Seconds()
	}
	if len(all) > 0 {
		r.P50Ms = ms(percentile(all, 0.50))
		r.P99Ms = ms(percentile(all, 0.99))
		r.MaxMs = ms(all[len(all)-1])
	}
	return r
}

// percentile returns the nearest-rank percentile of sorted samples.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p+0.999999) - 1
	if i < 0 {
		i = 0
	}
	if i >= len(sorted) {
		i = len(sorted) - 1
	}
	return sorted[i]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// combine merges the rounds of one figure: totals for counts and the rate,
// the median round for p50 and p99, the largest for max.
func combine(rs []Result) Result {
	var c Result
	var p50s, p99s []float64
	for _, r := range rs {
		c.Ops += r.Ops
		c.Errors += r.Errors
		c.Seconds += r.Seconds
		c.MaxMs = max(c.MaxMs, r.MaxMs)
		p50s, p99s = append(p50s, r.P50Ms), append(p99s, r.P99Ms)
		c.RoundPerSec = append(c.RoundPerSec, float64(int(r.PerSec)))
	}
	if c.Seconds > 0 {
		c.PerSec = float64(c.Ops) / c.Seconds
	}
	c.P50Ms, c.P99Ms = median(p50s), median(p99s)
	return c
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	sort.Float64s(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

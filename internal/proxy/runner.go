package proxy

import (
	"context"
	"time"
)

// SyncFunc performs one sync; full asks for a full rewrite.
type SyncFunc func(ctx context.Context, full bool) error

// Runner calls a SyncFunc when triggered, at most once per MinInterval, and
// with full=true at start, after MaxInterval without a full sync, and after
// a failure (retried after MinInterval).
type Runner struct {
	fn          SyncFunc
	minInterval time.Duration
	maxInterval time.Duration
	trigger     chan struct{}
}

// NewRunner returns a runner; minInterval bounds the sync rate (kube-proxy
// uses 1s) and maxInterval is the full-resync period (kube-proxy: 1h).
func NewRunner(fn SyncFunc, minInterval, maxInterval time.Duration) *Runner {
	if maxInterval <= 0 {
		maxInterval = time.Hour
	}
	return &Runner{fn: fn, minInterval: minInterval, maxInterval: maxInterval, trigger: make(chan struct{}, 1)}
}

// Trigger asks for a sync soon; it never blocks and coalesces requests.
func (r *Runner) Trigger() {
	select {
	case r.trigger <- struct{}{}:
	default:
	}
}

// Run syncs until ctx is done.
func (r *Runner) Run(ctx context.Context) {
	pending, full := true, true
	var last, lastFull time.Time
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		now := time.Now()
		var wait time.Duration
		if pending {
			wait = last.Add(r.minInterval).Sub(now)
		} else {
			wait = lastFull.Add(r.maxInterval).Sub(now)
		}
		timer.Reset(max(wait, 0))
		select {
		case <-ctx.Done():
			return
		case <-r.trigger:
			pending = true
			continue
		case <-timer.C:
		}
		now = time.Now()
		if !pending && now.Sub(lastFull) >= r.maxInterval {
			pending, full = true, true
		}
		if !pending || now.Sub(last) < r.minInterval {
			continue
		}
		err := r.fn(ctx, full)
		last = time.Now()
		if err != nil {
			full = true
			continue
		}
		if full {
			lastFull = last
		}
		pending, full = false, false
	}
}

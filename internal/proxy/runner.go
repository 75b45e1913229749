package proxy

import (
	"context"
	"time"
)

// SyncFunc performs one sync; full asks for a full rewrite.
type SyncFunc func(ctx context.Context, full bool) error

// DefaultSyncBurst is how many syncs may run back to back after a quiet
// spell, as kube-proxy's bounded-frequency runner allows: a lone change
// (a Service and then its EndpointSlice) is programmed at once, and only
// a burst of changes waits for MinInterval.
const DefaultSyncBurst = 2

// Runner calls a SyncFunc when triggered, and with full=true at start,
// after MaxInterval without a full sync, and after a failure (retried
// after MinInterval). Syncs are rate-limited by a token bucket holding
// Burst tokens and refilled with one token per MinInterval: after a quiet
// spell the first Burst syncs run immediately, later ones once per
// MinInterval.
type Runner struct {
	fn          SyncFunc
	minInterval time.Duration
	maxInterval time.Duration
	burst       int
	trigger     chan struct{}
}

// NewRunner returns a runner; minInterval bounds the sustained sync rate
// (kube-proxy uses 1s), maxInterval is the full-resync period (kube-proxy:
// 1h) and burst (at least 1) the syncs allowed back to back.
func NewRunner(fn SyncFunc, minInterval, maxInterval time.Duration, burst int) *Runner {
	if maxInterval <= 0 {
		maxInterval = time.Hour
	}
	return &Runner{fn: fn, minInterval: minInterval, maxInterval: maxInterval, burst: max(burst, 1),
		trigger: make(chan struct{}, 1)}
}

// Trigger asks for a sync soon; it never blocks and coalesces requests.
func (r *Runner) Trigger() {
	select {
	case r.trigger <- struct{}{}:
	default:
	}
}

// bucket is the runner's token bucket; only the Run goroutine uses it.
type bucket struct {
	tokens   float64
	burst    float64
	interval time.Duration
	at       time.Time
}

func (b *bucket) refill(now time.Time) {
	if b.interval <= 0 {
		b.tokens = b.burst
		return
	}
	b.tokens = min(b.burst, b.tokens+float64(now.Sub(b.at))/float64(b.interval))
	b.at = now
}

// wait is how long until a token is available.
func (b *bucket) wait(now time.Time) time.Duration {
	b.refill(now)
	if b.tokens >= 1 {
		return 0
	}
	return time.Duration((1 - b.tokens) * float64(b.interval))
}

// failureRetry is the shortest wait before a failed sync is retried, even
// with a zero MinInterval.
const failureRetry = time.Second

// Run syncs until ctx is done.
func (r *Runner) Run(ctx context.Context) {
	pending, full := true, true
	var lastFull, retryAt time.Time
	tokens := &bucket{tokens: float64(r.burst), burst: float64(r.burst), interval: r.minInterval, at: time.Now()}
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		now := time.Now()
		var wait time.Duration
		if pending {
			wait = max(tokens.wait(now), retryAt.Sub(now))
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
		if !pending || tokens.wait(now) > 0 || now.Before(retryAt) {
			continue
		}
		tokens.tokens--
		err := r.fn(ctx, full)
		if err != nil {
			full = true
			// A failed sync is retried after MinInterval (counted from
			// its end, not its start), and never sooner than
			// failureRetry, so a persistent error is no busy loop.
			tokens.refill(time.Now())
			tokens.tokens = min(tokens.tokens, 0)
			retryAt = time.Now().Add(failureRetry)
			continue
		}
		if full {
			lastFull = time.Now()
		}
		pending, full = false, false
	}
}

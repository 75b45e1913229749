package daemonset

import (
	"sync"
	"time"
)

// Back-off of replacing failed daemon pods on one node, upstream's: an
// agent that rejects the pod at once must not make the controller
// recreate it in a hot loop.
const (
	failedBackoffInitial = time.Second
	failedBackoffMax     = 15 * time.Minute
)

// backoff is a per-key exponential back-off on a clock.
type backoff struct {
	mu      sync.Mutex
	now     func() time.Time
	entries map[string]backoffEntry
}

type backoffEntry struct {
	delay time.Duration
	last  time.Time
}

func newBackoff(now func() time.Time) *backoff {
	return &backoff{now: now, entries: map[string]backoffEntry{}}
}

// wait reports whether key's last failure is more recent than its delay,
// and that delay (after which to look again).
func (b *backoff) wait(key string) (time.Duration, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.entries[key]
	if !ok {
		return 0, false
	}
	return e.delay, b.now().Sub(e.last) < e.delay
}

// next records a failure of key now: the first (or the first after a
// quiet 2*failedBackoffMax) waits failedBackoffInitial, each further one
// twice the last, up to failedBackoffMax. Expired entries are dropped.
func (b *backoff) next(key string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	for k, e := range b.entries {
		if now.Sub(e.last) > 2*failedBackoffMax {
			delete(b.entries, k)
		}
	}
	e, ok := b.entries[key]
	if !ok {
		e.delay = failedBackoffInitial
	} else {
		e.delay = min(2*e.delay, failedBackoffMax)
	}
	e.last = now
	b.entries[key] = e
}

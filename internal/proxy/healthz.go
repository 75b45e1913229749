package proxy

import (
	"fmt"
	"net/http"
	"sync"
	"time"
)

// Health answers kube-proxy style /healthz and /livez: 200 while the proxy
// keeps up with changes, 503 when a change has waited longer than Timeout
// or nothing was ever programmed.
type Health struct {
	// Timeout is how long a pending change may wait (kube-proxy: 2x sync period).
	Timeout time.Duration
	// Pending reports whether changes wait and since when.
	Pending func() (bool, time.Time)
	// Now is the clock (time.Now when nil).
	Now func() time.Time

	mu          sync.Mutex
	lastUpdated time.Time
}

// Updated records a successful sync.
func (h *Health) Updated(at time.Time) {
	h.mu.Lock()
	h.lastUpdated = at
	h.mu.Unlock()
}

// Healthy reports the current verdict with the times it is based on.
func (h *Health) Healthy() (ok bool, lastUpdated, now time.Time) {
	h.mu.Lock()
	lastUpdated = h.lastUpdated
	h.mu.Unlock()
	now = time.Now()
	if h.Now != nil {
		now = h.Now()
	}
	if lastUpdated.IsZero() {
		return false, lastUpdated, now
	}
	if h.Pending != nil {
		if pending, since := h.Pending(); pending && now.Sub(since) > h.Timeout {
			return false, lastUpdated, now
		}
	}
	return true, lastUpdated, now
}

// ServeHTTP writes {"lastUpdated": ..., "currentTime": ..., "nodeEligible": true}.
func (h *Health) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	ok, last, now := h.Healthy()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if ok {
		w.WriteHeader(http.StatusOK)
	} else {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	fmt.Fprintf(w, `{"lastUpdated": %q,"currentTime": %q, "nodeEligible": %v}`, last, now, true)
}

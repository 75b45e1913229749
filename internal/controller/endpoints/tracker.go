package endpoints

import (
	"strconv"
	"sync"

	corev1 "k8s.io/api/core/v1"
)

// writeTracker remembers the resourceVersion of the controller's last write
// of each Endpoints object until the informer delivers it, so a sync never
// compares against (and skips a write because of) a cache that misses the
// controller's own last write.
type writeTracker struct {
	mu      sync.Mutex
	written map[string]string
}

func newWriteTracker() *writeTracker {
	return &writeTracker{written: map[string]string{}}
}

// wrote records the object returned by a create or an update.
func (t *writeTracker) wrote(key string, ep *corev1.Endpoints) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.written[key] = ep.ResourceVersion
}

// forget drops the expectation for key.
func (t *writeTracker) forget(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.written, key)
}

// observed clears the expectation an informer event satisfies.
func (t *writeTracker) observed(key string, ep *corev1.Endpoints) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if rv, ok := t.written[key]; ok && !rvOlder(ep.ResourceVersion, rv) {
		delete(t.written, key)
	}
}

// stale reports whether cached (nil when absent) misses the last write.
func (t *writeTracker) stale(key string, cached *corev1.Endpoints) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	rv, ok := t.written[key]
	if !ok {
		return false
	}
	if cached == nil || rvOlder(cached.ResourceVersion, rv) {
		return true
	}
	delete(t.written, key)
	return false
}

// rvOlder reports whether resourceVersion a is known to precede b. Versions
// that are not numbers are never ordered.
func rvOlder(a, b string) bool {
	x, err1 := strconv.ParseUint(a, 10, 64)
	y, err2 := strconv.ParseUint(b, 10, 64)
	return err1 == nil && err2 == nil && x < y
}

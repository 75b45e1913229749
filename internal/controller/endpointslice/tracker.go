package endpointslice

import (
	"strconv"
	"sync"

	discovery "k8s.io/api/discovery/v1"
)

// sliceTracker remembers the slice writes whose echo the informer has not
// delivered yet. It keeps a sync from acting on a cache that misses the
// controller's own last writes (which would create duplicate slices), and
// lets the event handlers ignore the echoes of those writes.
type sliceTracker struct {
	mu sync.Mutex
	// expect maps a service key to its slices' expected states by name.
	expect map[string]map[string]expectation
}

// expectation is the state of a slice after the controller's last write.
type expectation struct {
	resourceVersion string
	deleted         bool
}

func newSliceTracker() *sliceTracker {
	return &sliceTracker{expect: map[string]map[string]expectation{}}
}

func (t *sliceTracker) set(svcKey, name string, e expectation) {
	t.mu.Lock()
	defer t.mu.Unlock()
	m := t.expect[svcKey]
	if m == nil {
		m = map[string]expectation{}
		t.expect[svcKey] = m
	}
	m[name] = e
}

// wrote records a slice returned by a create or an update.
func (t *sliceTracker) wrote(svcKey string, s *discovery.EndpointSlice) {
	t.set(svcKey, s.Name, expectation{resourceVersion: s.ResourceVersion})
}

// deleted records a slice the controller deleted.
func (t *sliceTracker) deleted(svcKey, name string) {
	t.set(svcKey, name, expectation{deleted: true})
}

// pending reports whether a write for the Service has not been seen in
// the cache yet.
func (t *sliceTracker) pending(svcKey string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.expect[svcKey]) > 0
}

// forget drops what is known about a Service.
func (t *sliceTracker) forget(svcKey string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.expect, svcKey)
}

// observed is called for every slice event; it reports whether the event
// is news (not the echo of the controller's own write) and clears the
// matching expectation.
func (t *sliceTracker) observed(svcKey string, s *discovery.EndpointSlice, gone bool) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	m := t.expect[svcKey]
	e, ok := m[s.Name]
	if !ok {
		return true
	}
	if gone {
		delete(m, s.Name)
		return !e.deleted
	}
	if e.deleted {
		return true
	}
	if !rvOlder(s.ResourceVersion, e.resourceVersion) {
		delete(m, s.Name)
	}
	return s.ResourceVersion != e.resourceVersion
}

// stale reports whether listed (the cached slices of the Service) misses
// one of the controller's writes. Expectations the cache satisfies are
// cleared.
func (t *sliceTracker) stale(svcKey string, listed []*discovery.EndpointSlice) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	m := t.expect[svcKey]
	if len(m) == 0 {
		return false
	}
	byName := make(map[string]*discovery.EndpointSlice, len(listed))
	for _, s := range listed {
		byName[s.Name] = s
	}
	stale := false
	for name, e := range m {
		s, present := byName[name]
		switch {
		case e.deleted && present, !e.deleted && !present:
			stale = true
		case !e.deleted && rvOlder(s.ResourceVersion, e.resourceVersion):
			stale = true
		default:
			delete(m, name)
		}
	}
	return stale
}

// rvOlder reports whether resourceVersion a is known to precede b. Versions
// that are not numbers are never ordered.
func rvOlder(a, b string) bool {
	x, err1 := strconv.ParseUint(a, 10, 64)
	y, err2 := strconv.ParseUint(b, 10, 64)
	return err1 == nil && err2 == nil && x < y
}

// Package slicetracker remembers the EndpointSlice writes of a controller
// whose echo its informer has not delivered yet. The EndpointSlice and
// mirroring controllers use it so that a sync never acts on a cache that
// misses their own last writes (which would create duplicate slices), and
// so that their event handlers can ignore those echoes.
package slicetracker

import (
	"strconv"
	"sync"

	discovery "k8s.io/api/discovery/v1"
)

// Tracker holds the expected state of the slices a controller wrote, per
// owner key (a Service or an Endpoints "namespace/name"). It is safe for
// concurrent use.
type Tracker struct {
	mu sync.Mutex
	// expect maps an owner key to its slices' expected states by name.
	expect map[string]map[string]expectation
}

// expectation is the state of a slice after the controller's last write.
type expectation struct {
	resourceVersion string
	deleted         bool
}

// New returns an empty Tracker.
func New() *Tracker {
	return &Tracker{expect: map[string]map[string]expectation{}}
}

func (t *Tracker) set(key, name string, e expectation) {
	t.mu.Lock()
	defer t.mu.Unlock()
	m := t.expect[key]
	if m == nil {
		m = map[string]expectation{}
		t.expect[key] = m
	}
	m[name] = e
}

// Wrote records a slice returned by a create or an update.
func (t *Tracker) Wrote(key string, s *discovery.EndpointSlice) {
	t.set(key, s.Name, expectation{resourceVersion: s.ResourceVersion})
}

// Deleted records a slice the controller deleted.
func (t *Tracker) Deleted(key, name string) {
	t.set(key, name, expectation{deleted: true})
}

// Pending reports whether a write for key has not been seen in the cache
// yet.
func (t *Tracker) Pending(key string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.expect[key]) > 0
}

// Drop forgets the expectations of the named slices.
func (t *Tracker) Drop(key string, names []string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, n := range names {
		delete(t.expect[key], n)
	}
}

// Written returns the names of the slices the controller wrote for key
// and did not delete since, whether or not the cache has them yet.
func (t *Tracker) Written(key string) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var names []string
	for name, e := range t.expect[key] {
		if !e.deleted {
			names = append(names, name)
		}
	}
	return names
}

// Observed is called for every event of a managed slice; it reports whether
// the event is news (not the echo of the controller's own write) and clears
// the expectation it satisfies.
func (t *Tracker) Observed(key string, s *discovery.EndpointSlice, gone bool) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	m := t.expect[key]
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

// Stale compares listed (the cached slices of the owner) with the
// expectations. It reports whether the cache is certainly behind (a slice
// older than written, or one deleted still there), and the slices written
// but absent from the cache: either not delivered yet or deleted before
// the write was recorded, which only the API can tell. Expectations the
// cache satisfies are cleared.
func (t *Tracker) Stale(key string, listed []*discovery.EndpointSlice) (behind bool, missing []string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	m := t.expect[key]
	if len(m) == 0 {
		return false, nil
	}
	byName := make(map[string]*discovery.EndpointSlice, len(listed))
	for _, s := range listed {
		byName[s.Name] = s
	}
	for name, e := range m {
		s, present := byName[name]
		switch {
		case e.deleted && present:
			behind = true
		case !e.deleted && !present:
			missing = append(missing, name)
		case !e.deleted && rvOlder(s.ResourceVersion, e.resourceVersion):
			behind = true
		default:
			delete(m, name)
		}
	}
	return behind, missing
}

// rvOlder reports whether resourceVersion a is known to precede b. Versions
// that are not numbers are never ordered.
func rvOlder(a, b string) bool {
	x, err1 := strconv.ParseUint(a, 10, 64)
	y, err2 := strconv.ParseUint(b, 10, 64)
	return err1 == nil && err2 == nil && x < y
}

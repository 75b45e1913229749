package endpointslicemirroring

import (
	"strconv"
	"sync"

	discovery "k8s.io/api/discovery/v1"
)

// sliceTracker remembers the slice writes whose echo the informer has not
// delivered yet, so that a sync never acts on a cache missing the
// controller's own last writes (which would create duplicate slices), and
// so that the event handlers can ignore those echoes.
type sliceTracker struct {
	mu sync.Mutex
	// expect maps an Endpoints key to its slices' expected states by name.
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

func (t *sliceTracker) set(key, name string, e expectation) {
	t.mu.Lock()
	defer t.mu.Unlock()
	m := t.expect[key]
	if m == nil {
		m = map[string]expectation{}
		t.expect[key] = m
	}
	m[name] = e
}

// wrote records a slice returned by a create or an update.
func (t *sliceTracker) wrote(key string, s *discovery.EndpointSlice) {
	t.set(key, s.Name, expectation{resourceVersion: s.ResourceVersion})
}

// deleted records a slice the controller deleted.
func (t *sliceTracker) deleted(key, name string) {
	t.set(key, name, expectation{deleted: true})
}

// drop forgets the expectations of the named slices.
func (t *sliceTracker) drop(key string, names []string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, n := range names {
		delete(t.expect[key], n)
	}
}

// written returns the names of the slices the controller wrote for key
// and did not delete since, whether or not the cache has them yet.
func (t *sliceTracker) written(key string) []string {
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

// observed is called for every event of a managed slice; it reports whether
// the event is news (not the echo of the controller's own write) and clears
// the expectation it satisfies.
func (t *sliceTracker) observed(key string, s *discovery.EndpointSlice, gone bool) bool {
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

// stale compares listed (the cached slices of an Endpoints) with the
// expectations. It reports whether the cache is certainly behind (a slice
// older than written, or one deleted still there), and the slices written
// but absent from the cache: either not delivered yet or deleted before
// the write was recorded, which only the API can tell. Expectations the
// cache satisfies are cleared.
func (t *sliceTracker) stale(key string, listed []*discovery.EndpointSlice) (behind bool, missing []string) {
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

package replicaset

import (
	"sync"
	"time"
)

// expectationsTTL bounds how long a controller waits for the informer to
// show its own writes: a lost watch event must not block it forever
// (upstream uses the same five minutes).
const expectationsTTL = 5 * time.Minute

// expectations records, per controller key, the pod creations it still
// expects to observe and the pods whose deletion it still expects, so a
// sync does not act again on a stale cache.
type expectations struct {
	mu    sync.Mutex
	now   func() time.Time
	items map[string]*expectation
}

type expectation struct {
	adds      int
	deletions map[string]bool
	at        time.Time
}

func newExpectations(now func() time.Time) *expectations {
	return &expectations{now: now, items: map[string]*expectation{}}
}

// satisfied reports whether key has no outstanding expectations (or they
// expired).
func (e *expectations) satisfied(key string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	x, ok := e.items[key]
	if !ok {
		return true
	}
	if x.adds <= 0 && len(x.deletions) == 0 {
		return true
	}
	return e.now().Sub(x.at) > expectationsTTL
}

// expect replaces key's expectations with adds creations and the deletion
// of the named pods.
func (e *expectations) expect(key string, adds int, deletions []string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	x := &expectation{adds: adds, deletions: map[string]bool{}, at: e.now()}
	for _, d := range deletions {
		x.deletions[d] = true
	}
	e.items[key] = x
}

// creationObserved lowers the expected creations of key by one.
func (e *expectations) creationObserved(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.items[key]; ok {
		x.adds--
	}
}

// deletionObserved drops pod from the expected deletions of key.
func (e *expectations) deletionObserved(key, pod string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.items[key]; ok {
		delete(x.deletions, pod)
	}
}

// forget drops every expectation of key.
func (e *expectations) forget(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.items, key)
}

package expectations

import (
	"sync"
	"time"
)

// TTL bounds how long a controller waits for the informer to show its own
// writes: a lost watch event must not block it forever (upstream uses the
// same five minutes).
const TTL = 5 * time.Minute

// Expectations is safe for concurrent use; its zero value is not usable,
// use New.
type Expectations struct {
	mu    sync.Mutex
	now   func() time.Time
	items map[string]*expectation
}

type expectation struct {
	adds      int
	deletions map[string]bool
	at        time.Time
}

// New returns empty Expectations whose TTL is measured with now (nil:
// time.Now).
func New(now func() time.Time) *Expectations {
	if now == nil {
		now = time.Now
	}
	return &Expectations{now: now, items: map[string]*expectation{}}
}

// Satisfied reports whether key has no outstanding expectations (or they
// expired).
func (e *Expectations) Satisfied(key string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	x, ok := e.items[key]
	if !ok {
		return true
	}
	if x.adds <= 0 && len(x.deletions) == 0 {
		return true
	}
	return e.now().Sub(x.at) > TTL
}

// Expect replaces key's expectations with adds creations and the deletion
// of the named pods ("namespace/name").
func (e *Expectations) Expect(key string, adds int, deletions []string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	x := &expectation{adds: adds, deletions: map[string]bool{}, at: e.now()}
	for _, d := range deletions {
		x.deletions[d] = true
	}
	e.items[key] = x
}

// CreationObserved lowers the expected creations of key by one.
func (e *Expectations) CreationObserved(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.items[key]; ok {
		x.adds--
	}
}

// DeletionObserved drops pod ("namespace/name") from the expected
// deletions of key.
func (e *Expectations) DeletionObserved(key, pod string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.items[key]; ok {
		delete(x.deletions, pod)
	}
}

// Forget drops every expectation of key.
func (e *Expectations) Forget(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.items, key)
}

package cacher

import (
	"context"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
)

// entry is one cached object under its storage key. The object is never
// modified once it is in the cache.
type entry struct {
	key string
	obj runtime.Object
}

// change is one event to apply: the object now at key, or its removal.
type change struct {
	key     string
	obj     runtime.Object
	deleted bool
}

// cache is the in-memory state of one resource prefix: the objects in key
// order, exactly as the store had them at revision rev.
type cache struct {
	mu       sync.RWMutex
	entries  []entry // sorted by key
	rev      int64   // every change up to rev is applied, none after
	ready    bool    // fed by a live watch: reads may use it
	advanced chan struct{}

	synced atomic.Bool // ready at least once

	// waiters counts reads waiting for a revision; while there are any,
	// the feed asks the store for progress.
	waiters atomic.Int32
	// progress carries a waiting read's wish for a bookmark to the feed.
	progress chan struct{}
}

func newCache() *cache {
	return &cache{advanced: make(chan struct{}), progress: make(chan struct{}, 1)}
}

// broadcastLocked wakes every read waiting for the state to change.
func (c *cache) broadcastLocked() {
	close(c.advanced)
	c.advanced = make(chan struct{})
}

// replace swaps in the result of a full list at rev (sorted by key) and
// makes the cache ready.
func (c *cache) replace(entries []entry, rev int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.entries, c.rev, c.ready = entries, rev, true
	c.synced.Store(true)
	c.broadcastLocked()
}

// apply applies the changes of every revision up to rev and makes the
// cache ready (its watch is live).
func (c *cache) apply(changes []change, rev int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ch := range changes {
		i, found := c.find(ch.key)
		switch {
		case ch.deleted && found:
			c.entries = append(c.entries[:i], c.entries[i+1:]...)
		case ch.deleted:
		case found:
			c.entries[i].obj = ch.obj
		default:
			c.entries = append(c.entries, entry{})
			copy(c.entries[i+1:], c.entries[i:])
			c.entries[i] = entry{key: ch.key, obj: ch.obj}
		}
	}
	if rev > c.rev {
		c.rev = rev
	}
	c.ready = true
	c.synced.Store(true)
	c.broadcastLocked()
}

// setUnready makes reads go to the store until the feed is live again.
func (c *cache) setUnready() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ready {
		c.ready = false
		c.broadcastLocked()
	}
}

// isReady reports whether reads may use the cache.
func (c *cache) isReady() bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.ready
}

// revision is the revision the cache is at.
func (c *cache) revision() int64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.rev
}

// find returns where key is, or would be inserted, in entries.
func (c *cache) find(key string) (int, bool) {
	i := sort.Search(len(c.entries), func(i int) bool { return c.entries[i].key >= key })
	return i, i < len(c.entries) && c.entries[i].key == key
}

// askProgress tells the feed that a read waits for a bookmark.
func (c *cache) askProgress() {
	select {
	case c.progress <- struct{}{}:
	default: // one wish is enough: the feed asks after taking it
	}
}

// wait returns true once the cache is ready at minRev or later, false
// when it is not ready, or not there within timeout (or ctx ends).
func (c *cache) wait(ctx context.Context, minRev int64, timeout time.Duration) bool {
	ok, ready, ch := c.check(minRev)
	if ok || !ready {
		return ok
	}
	c.waiters.Add(1)
	defer c.waiters.Add(-1)
	c.askProgress()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		select {
		case <-ch:
		case <-timer.C:
			return false
		case <-ctx.Done():
			return false
		}
		if ok, ready, ch = c.check(minRev); ok || !ready {
			return ok
		}
	}
}

func (c *cache) check(minRev int64) (ok, ready bool, advanced <-chan struct{}) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.ready && c.rev >= minRev, c.ready, c.advanced
}

// selection is what one page of a list takes from the cache.
type selection struct {
	objs    []runtime.Object // matching objects, in key order
	rev     int64
	lastKey string // the last key looked at
	hasMore bool   // keys below the prefix follow lastKey
	// remaining is the number of keys after lastKey (known only without
	// a predicate, -1 otherwise).
	remaining int64
}

// selectRange returns the objects below prefix that match pred (nil:
// all), at most limit of them when limit > 0. Like the store, a page is
// full after limit matches, and has more when any key follows.
func (c *cache) selectRange(prefix string, limit int64, pred func(runtime.Object) (bool, error)) (selection, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	lo, _ := c.find(prefix)
	hi, _ := c.find(prefixEnd(prefix))
	sel := selection{rev: c.rev, remaining: -1}
	if pred == nil {
		n := hi - lo
		if limit > 0 && int64(n) > limit {
			n = int(limit)
		}
		sel.objs = make([]runtime.Object, 0, n)
	}
	i := lo
	for ; i < hi; i++ {
		if limit > 0 && int64(len(sel.objs)) == limit {
			break
		}
		e := &c.entries[i]
		sel.lastKey = e.key
		if pred != nil {
			ok, err := pred(e.obj)
			if err != nil {
				return selection{}, err
			}
			if !ok {
				continue
			}
		}
		sel.objs = append(sel.objs, e.obj)
	}
	if i < hi {
		sel.hasMore = true
		if pred == nil {
			sel.remaining = int64(hi - i)
		}
	}
	return sel, nil
}

// prefixEnd is the first key after every key starting with prefix, which
// ends in "/".
func prefixEnd(prefix string) string {
	return prefix[:len(prefix)-1] + string(rune('/'+1))
}

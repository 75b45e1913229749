package userspace

import (
	"slices"
	"sync"
	"time"
)

// balancer picks endpoints round-robin, with optional ClientIP affinity.
// It is shared by a listener's accept loop and updated by Sync.
type balancer struct {
	mu        sync.Mutex
	endpoints []string
	next      int
	affinity  time.Duration
	sticky    map[string]stickyEntry
	now       func() time.Time
}

type stickyEntry struct {
	endpoint string
	lastUsed time.Time
}

func newBalancer(now func() time.Time) *balancer {
	return &balancer{sticky: map[string]stickyEntry{}, now: now}
}

// update replaces the endpoints and affinity timeout; affinity entries to
// endpoints that are gone are forgotten.
func (b *balancer) update(endpoints []string, affinitySeconds int32) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.endpoints = slices.Clone(endpoints)
	b.affinity = time.Duration(affinitySeconds) * time.Second
	if b.affinity == 0 {
		clear(b.sticky)
	}
	for ip, s := range b.sticky {
		if !slices.Contains(b.endpoints, s.endpoint) {
			delete(b.sticky, ip)
		}
	}
}

// pick returns the endpoint for a new connection from clientIP, skipping
// the ones in exclude (already failed for this connection); "" when none.
func (b *balancer) pick(clientIP string, exclude []string) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	if b.affinity > 0 {
		if s, ok := b.sticky[clientIP]; ok && now.Sub(s.lastUsed) < b.affinity && !slices.Contains(exclude, s.endpoint) {
			s.lastUsed = now
			b.sticky[clientIP] = s
			return s.endpoint
		}
	}
	for range b.endpoints {
		ep := b.endpoints[b.next%len(b.endpoints)]
		b.next = (b.next + 1) % len(b.endpoints)
		if slices.Contains(exclude, ep) {
			continue
		}
		if b.affinity > 0 {
			b.sticky[clientIP] = stickyEntry{endpoint: ep, lastUsed: now}
		}
		return ep
	}
	return ""
}

package etcd3

import (
	"context"
	"math"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Objects written with a TTL (events) are put under an etcd lease. A lease
// costs etcd a record and a timer of its own, so, as kube-apiserver does,
// one lease is shared by every object written with the same TTL during a
// short window: it is granted that window longer than the TTL, and an
// object written under it lives between TTL and TTL plus the window.
const (
	// leaseReuseFraction of the TTL is the reuse window (3 minutes of
	// --event-ttl's hour, capped below).
	leaseReuseFraction = 0.05
	// maxLeaseReuse caps the window, so an object outlives its TTL by at
	// most a minute.
	maxLeaseReuse = 60 * time.Second
	// maxObjectsPerLease bounds how many keys expire in one go: etcd
	// deletes all the keys of an expired lease in one transaction.
	maxObjectsPerLease = 1000
)

// leaseManager hands out shared leases, one per TTL.
type leaseManager struct {
	lease      clientv3.Lease
	now        func() time.Time
	maxObjects int // maxObjectsPerLease; lowered by tests

	mu    sync.Mutex
	byTTL map[int64]*sharedLease // by TTL in seconds
}

// sharedLease is the lease currently handed out for one TTL.
type sharedLease struct {
	id clientv3.LeaseID
	// expires is the earliest moment etcd may expire the lease: the time
	// the grant was asked for plus the granted TTL.
	expires  time.Time
	attached int
}

func newLeaseManager(lease clientv3.Lease) *leaseManager {
	return &leaseManager{lease: lease, now: time.Now, maxObjects: maxObjectsPerLease, byTTL: map[int64]*sharedLease{}}
}

// get returns a lease under which a key written now lives at least ttl
// seconds, granting a new one when the current lease for ttl would expire
// too early or holds maxObjects keys already.
func (m *leaseManager) get(ctx context.Context, ttl int64) (clientv3.LeaseID, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	if l := m.byTTL[ttl]; l != nil && l.attached < m.maxObjects && l.expires.After(now.Add(time.Duration(ttl)*time.Second)) {
		l.attached++
		return l.id, nil
	}
	// Grants are serialised by mu, so a burst of writes waits for one
	// grant instead of each asking for a lease of its own.
	resp, err := m.lease.Grant(ctx, ttl+reuseWindow(ttl))
	if err != nil {
		return 0, err
	}
	// etcd may grant more than asked for (its minimum TTL is about two
	// election timeouts); the granted TTL is what counts.
	m.byTTL[ttl] = &sharedLease{id: resp.ID, expires: now.Add(time.Duration(resp.TTL) * time.Second), attached: 1}
	return resp.ID, nil
}

// forget drops lease id if it is the one handed out: etcd no longer knows
// it (someone revoked it).
func (m *leaseManager) forget(id clientv3.LeaseID) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for ttl, l := range m.byTTL {
		if l.id == id {
			delete(m.byTTL, ttl)
		}
	}
}

// reuseWindow is how many seconds a lease for ttl is handed out.
func reuseWindow(ttl int64) int64 {
	w := int64(leaseReuseFraction * float64(ttl))
	return min(w, int64(maxLeaseReuse/time.Second))
}

// ttlSeconds rounds a TTL up to the whole seconds etcd leases count in.
func ttlSeconds(d time.Duration) int64 {
	return int64(math.Ceil(d.Seconds()))
}

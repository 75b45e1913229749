package etcd3

import (
	"context"
	"fmt"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/svcnet/svcnet/internal/storage"
)

func countLeases(ctx context.Context, t *testing.T, client *clientv3.Client) int {
	t.Helper()
	resp, err := client.Leases(ctx)
	if err != nil {
		t.Fatalf("Leases: %v", err)
	}
	return len(resp.Leases)
}

// leaseOf returns the lease the key is stored under (0: none).
func leaseOf(ctx context.Context, t *testing.T, client *clientv3.Client, key string) clientv3.LeaseID {
	t.Helper()
	resp, err := client.Get(ctx, key)
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("raw Get %s: %v, %d keys", key, err, len(resp.Kvs))
	}
	return clientv3.LeaseID(resp.Kvs[0].Lease)
}

func createWithTTL(ctx context.Context, t *testing.T, s *Store, key string, ttl time.Duration) {
	t.Helper()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: "default"}}
	if err := s.Create(ctx, key, cm, &corev1.ConfigMap{}, storage.WriteOptions{TTL: ttl}); err != nil {
		t.Fatalf("Create %s: %v", key, err)
	}
}

func TestLeasesShared(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	client, _ := startEtcd(t, t.TempDir())
	for _, tc := range []struct {
		name       string
		maxObjects int
		ttls       []time.Duration // one create each
		wantLeases int
	}{
		{name: "one TTL shares one lease", ttls: repeat(50, 10*time.Minute), wantLeases: 1},
		{name: "each TTL has a lease of its own", ttls: append(repeat(10, 10*time.Minute), repeat(10, 20*time.Minute)...), wantLeases: 2},
		{name: "a full lease is replaced", maxObjects: 20, ttls: repeat(50, 10*time.Minute), wantLeases: 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t, client)
			if tc.maxObjects > 0 {
				s.leases.maxObjects = tc.maxObjects
			}
			before := countLeases(ctx, t, client)
			for i, ttl := range tc.ttls {
				createWithTTL(ctx, t, s, fmt.Sprintf("/registry/leasetest/%s/%d", t.Name(), i), ttl)
			}
			if got := countLeases(ctx, t, client) - before; got != tc.wantLeases {
				t.Errorf("%d creates made %d leases, want %d", len(tc.ttls), got, tc.wantLeases)
			}
		})
	}
}

func repeat(n int, d time.Duration) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = d
	}
	return out
}

// TestLeaseGrantedTTL checks that a shared lease outlives the TTL by the
// reuse window only: 5% of the TTL, at most a minute.
func TestLeaseGrantedTTL(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	client, _ := startEtcd(t, t.TempDir())
	s := newStore(t, client)
	for _, tc := range []struct {
		ttl  time.Duration
		want int64
	}{
		{ttl: 10 * time.Minute, want: 630},
		{ttl: time.Hour, want: 3660},
		{ttl: 90*time.Second + time.Millisecond, want: 95}, // rounded up to 91s
	} {
		key := "/registry/leasetest/granted/" + tc.ttl.String()
		createWithTTL(ctx, t, s, key, tc.ttl)
		resp, err := client.TimeToLive(ctx, leaseOf(ctx, t, client, key))
		if err != nil {
			t.Fatalf("TimeToLive: %v", err)
		}
		if resp.GrantedTTL != tc.want {
			t.Errorf("TTL %v: got a lease of %ds, want %ds", tc.ttl, resp.GrantedTTL, tc.want)
		}
	}
}

// TestUpdateSetsTTLAnew checks that an update with a TTL puts the object
// under a lease that lives at least the TTL from the update (a new one once
// the shared lease would expire too early), and one without makes it
// permanent.
func TestUpdateSetsTTLAnew(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	client, _ := startEtcd(t, t.TempDir())
	s := newStore(t, client)
	now := time.Now()
	s.leases.now = func() time.Time { return now }
	const key = "/registry/leasetest/update"
	createWithTTL(ctx, t, s, key, 10*time.Minute)
	first := leaseOf(ctx, t, client, key)
	if first == 0 {
		t.Fatalf("created with a TTL, got no lease")
	}
	writes := 0
	update := func(ttl time.Duration) clientv3.LeaseID {
		t.Helper()
		writes++
		err := s.GuaranteedUpdate(ctx, key, &corev1.ConfigMap{}, false, nil,
			func(cur runtime.Object) (runtime.Object, storage.WriteOptions, error) {
				cm := cur.(*corev1.ConfigMap).DeepCopy()
				cm.Data = map[string]string{"n": fmt.Sprint(writes)}
				return cm, storage.WriteOptions{TTL: ttl}, nil
			})
		if err != nil {
			t.Fatalf("GuaranteedUpdate: %v", err)
		}
		return leaseOf(ctx, t, client, key)
	}

	now = now.Add(10 * time.Second) // within the 30s reuse window
	if got := update(10 * time.Minute); got != first {
		t.Errorf("update within the reuse window: got lease %x, want the shared %x", got, first)
	}
	now = now.Add(time.Minute) // the shared lease ends before now+10m
	second := update(10 * time.Minute)
	if second == first || second == 0 {
		t.Errorf("update after the reuse window: got lease %x, want a new one (not %x)", second, first)
	}
	if got := update(0); got != 0 {
		t.Errorf("update without TTL: got lease %x, want none", got)
	}
}

// TestRevokedLeaseReplaced checks that a write whose shared lease was
// revoked behind the store's back gets a new one instead of failing.
func TestRevokedLeaseReplaced(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	client, _ := startEtcd(t, t.TempDir())
	s := newStore(t, client)
	createWithTTL(ctx, t, s, "/registry/leasetest/a", 10*time.Minute)
	revoked := leaseOf(ctx, t, client, "/registry/leasetest/a")
	if _, err := client.Revoke(ctx, revoked); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	if err := s.Get(ctx, "/registry/leasetest/a", &corev1.ConfigMap{}); !storage.IsNotFound(err) {
		t.Fatalf("Get after revoking its lease: got %v, want not found", err)
	}
	createWithTTL(ctx, t, s, "/registry/leasetest/b", 10*time.Minute)
	if got := leaseOf(ctx, t, client, "/registry/leasetest/b"); got == revoked || got == 0 {
		t.Errorf("got lease %x, want a new one (not %x)", got, revoked)
	}
}

package server

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// apiServerLeasePrefix holds one key per live API server, its address,
// under an etcd lease (upstream's /masterleases/). It lies outside the
// API's /registry prefix.
const apiServerLeasePrefix = "/svcnet/apiserverleases/"

// apiServerLeaseTTL is how long a server's key outlives its last refresh:
// upstream's 15s, with bootstrap reconciling (and refreshing) every 10s.
const apiServerLeaseTTL = 15 * time.Second

// apiServerLeases publishes this server's address and lists the live ones,
// so the kubernetes Endpoints name every API server of the cluster.
type apiServerLeases struct {
	etcd    *clientv3.Client
	address netip.Addr
}

func (l *apiServerLeases) key() string { return apiServerLeasePrefix + l.address.String() }

// Addresses refreshes this server's key under a new lease of
// apiServerLeaseTTL, then returns every address with a live key. A server
// that stops refreshing drops out once its lease expires.
func (l *apiServerLeases) Addresses(ctx context.Context) ([]netip.Addr, error) {
	lease, err := l.etcd.Grant(ctx, int64(apiServerLeaseTTL/time.Second))
	if err != nil {
		return nil, fmt.Errorf("granting lease: %w", err)
	}
	if _, err := l.etcd.Put(ctx, l.key(), l.address.String(), clientv3.WithLease(lease.ID)); err != nil {
		return nil, fmt.Errorf("refreshing %s: %w", l.key(), err)
	}
	resp, err := l.etcd.Get(ctx, apiServerLeasePrefix, clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", apiServerLeasePrefix, err)
	}
	var out []netip.Addr
	for _, kv := range resp.Kvs {
		if a, err := netip.ParseAddr(strings.TrimPrefix(string(kv.Key), apiServerLeasePrefix)); err == nil {
			out = append(out, a)
		}
	}
	return out, nil
}

// Remove deletes this server's key on a clean stop, so the others drop
// its address at their next reconciliation rather than after the TTL.
func (l *apiServerLeases) Remove() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, _ = l.etcd.Delete(ctx, l.key())
}

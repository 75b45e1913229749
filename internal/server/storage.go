package server

import (
	"context"
	"fmt"
	"path/filepath"

	clientv3 "go.etcd.io/etcd/client/v3"
	"golang.org/x/sync/errgroup"

	"github.com/svcnet/svcnet/internal/allocator/ipallocator"
	"github.com/svcnet/svcnet/internal/etcd"
	"github.com/svcnet/svcnet/internal/storage"
	"github.com/svcnet/svcnet/internal/storage/etcd3"
)

// startStorage connects to the external etcd cluster of --etcd-servers or
// starts the embedded member in <data-dir>/etcd, and returns the store
// over it, the etcd client, and a function that closes an external client.
func (s *Server) startStorage(ctx context.Context, g *errgroup.Group) (storage.Interface, *clientv3.Client, func(), error) {
	var client *clientv3.Client
	closeClient := func() {} // the embedded member closes its own client
	if len(s.cfg.EtcdServers) > 0 {
		c, err := etcd.Dial(ctx, s.cfg.EtcdServers)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("etcd %v: %w", s.cfg.EtcdServers, err)
		}
		client, closeClient = c, func() { c.Close() }
	} else {
		member, err := etcd.New(etcd.Config{DataDir: filepath.Join(s.cfg.DataDir, "etcd"), Logger: s.logger.With("component", "etcd")})
		if err != nil {
			return nil, nil, nil, err
		}
		g.Go(func() error { return member.Run(ctx) })
		if client, err = member.Client(ctx); err != nil {
			return nil, nil, nil, fmt.Errorf("embedded etcd: %w", err)
		}
	}
	store, err := etcd3.New(etcd3.Config{Client: client, Logger: s.logger.With("component", "storage"),
		// ClusterIP reservations are the IPAddress objects clients see.
		ReservationObjects: []storage.ReservationObjects{ipallocator.IPAddresses{}}})
	if err != nil {
		closeClient()
		return nil, nil, nil, err
	}
	return store, client, closeClient, nil
}

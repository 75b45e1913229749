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
	"github.com/svcnet/svcnet/internal/storage/cacher"
	"github.com/svcnet/svcnet/internal/storage/encryption"
	"github.com/svcnet/svcnet/internal/storage/etcd3"
	"github.com/svcnet/svcnet/internal/storage/spaceguard"
)

// startStorage connects to the external etcd cluster of --etcd-servers or
// starts the embedded member in <data-dir>/etcd, and returns the store
// over it, the etcd client, and a function that closes an external client.
func (s *Server) startStorage(ctx context.Context, g *errgroup.Group) (storage.Interface, *clientv3.Client, func(), error) {
	var client *clientv3.Client
	dataDir := ""            // the embedded member's, on this machine's disk
	closeClient := func() {} // the embedded member closes its own client
	if len(s.cfg.EtcdServers) > 0 {
		tlsCfg, err := etcd.TLSFiles{CAFile: s.cfg.EtcdCAFile, CertFile: s.cfg.EtcdCertFile, KeyFile: s.cfg.EtcdKeyFile}.ClientTLS()
		if err != nil {
			return nil, nil, nil, fmt.Errorf("--etcd-cafile/--etcd-certfile/--etcd-keyfile: %w", err)
		}
		c, err := etcd.Dial(ctx, s.cfg.EtcdServers, tlsCfg)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("etcd %v: %w", s.cfg.EtcdServers, err)
		}
		client, closeClient = c, func() { c.Close() }
	} else {
		dataDir = filepath.Join(s.cfg.DataDir, "etcd")
		member, err := etcd.New(etcd.Config{DataDir: dataDir, Logger: s.logger.With("component", "etcd")})
		if err != nil {
			return nil, nil, nil, err
		}
		g.Go(func() error { return member.Run(ctx) })
		if client, err = member.Client(ctx); err != nil {
			return nil, nil, nil, fmt.Errorf("embedded etcd: %w", err)
		}
	}
	var transformer storage.Transformer
	if s.cfg.EncryptionProviderConfig != "" {
		cfg, err := encryption.LoadFile(s.cfg.EncryptionProviderConfig)
		if err != nil {
			closeClient()
			return nil, nil, nil, err
		}
		s.encryption = encryption.NewTransformer(cfg)
		transformer = s.encryption
	}
	var store storage.Interface
	store, err := etcd3.New(etcd3.Config{Client: client, Logger: s.logger.With("component", "storage"), Transformer: transformer,
		// ClusterIP reservations are the IPAddress objects clients see.
		ReservationObjects: []storage.ReservationObjects{ipallocator.IPAddresses{}}})
	if err != nil {
		closeClient()
		return nil, nil, nil, err
	}
	if dataDir != "" {
		guard, err := spaceguard.New(spaceguard.Config{Store: store, Dir: dataDir, Reserve: s.cfg.EtcdDiskReserve,
			Logger: s.logger.With("component", "storage")})
		if err != nil {
			return nil, nil, nil, err
		}
		g.Go(func() error { return guard.Run(ctx) })
		store = guard
	}
	// LISTs are answered from memory, with kube-apiserver's consistency
	// rules; until a resource's cache has synced, etcd answers.
	cache, err := cacher.New(cacher.Config{Store: store, Resources: cachedResources(),
		Logger: s.logger.With("component", "storage")})
	if err != nil {
		closeClient()
		return nil, nil, nil, err
	}
	g.Go(func() error { return cache.Run(ctx) })
	s.cacheSynced = cache.HasSynced
	return cache, client, closeClient, nil
}

package server

import (
	"context"
	"encoding/json"
	"fmt"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/svcnet/svcnet/internal/pki"
)

// SharedPKIKey is the etcd key holding the cluster's CA and join token
// secret (pki.Shared as JSON). It lies outside the API's /registry prefix,
// so no API request can read it.
const SharedPKIKey = "/svcnet/pki/shared"

// loadSharedPKI loads the PKI of cfg.Dir so that every server on one etcd
// cluster holds the same CA and join token. The first server to start
// stores its material under SharedPKIKey (a create-if-absent
// transaction, so of two servers starting at once exactly one wins); every
// later one, and the loser of that race, seeds its data dir from the key
// before loading, replacing a CA of its own.
func (s *Server) loadSharedPKI(ctx context.Context, etcd *clientv3.Client, cfg pki.Config) (*pki.PKI, error) {
	resp, err := etcd.Get(ctx, SharedPKIKey)
	if err != nil {
		return nil, fmt.Errorf("reading the shared PKI: %w", err)
	}
	if len(resp.Kvs) == 1 {
		return s.adoptPKI(ctx, etcd, resp.Kvs[0], cfg)
	}
	p, err := pki.Load(cfg)
	if err != nil {
		return nil, err
	}
	shared, err := p.Shared()
	if err != nil {
		return nil, err
	}
	data, err := json.Marshal(shared)
	if err != nil {
		return nil, err
	}
	txn, err := etcd.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(SharedPKIKey), "=", 0)).
		Then(clientv3.OpPut(SharedPKIKey, string(data))).
		Else(clientv3.OpGet(SharedPKIKey)).
		Commit()
	if err != nil {
		return nil, fmt.Errorf("storing the shared PKI: %w", err)
	}
	if txn.Succeeded {
		s.logger.Info("Stored the cluster CA and join token in etcd for other servers", "key", SharedPKIKey)
		return p, nil
	}
	kvs := txn.Responses[0].GetResponseRange().Kvs
	if len(kvs) != 1 {
		return nil, fmt.Errorf("shared PKI %s vanished while storing it", SharedPKIKey)
	}
	return s.adoptPKI(ctx, etcd, kvs[0], cfg)
}

// adoptPKI seeds cfg.Dir with the stored material kv and loads it.
// Material stored before ServiceAccount tokens has no signing key: the
// first server to see that adds its own (a compare-and-swap on kv's
// revision), and a server that loses that race adopts the winner's.
func (s *Server) adoptPKI(ctx context.Context, etcd *clientv3.Client, kv *mvccpb.KeyValue, cfg pki.Config) (*pki.PKI, error) {
	var shared pki.Shared
	if err := json.Unmarshal(kv.Value, &shared); err != nil {
		return nil, fmt.Errorf("decoding the shared PKI %s: %w", SharedPKIKey, err)
	}
	changed, err := pki.Seed(cfg.Dir, shared)
	if err != nil {
		return nil, fmt.Errorf("shared PKI %s: %w", SharedPKIKey, err)
	}
	if changed {
		s.logger.Info("Adopted the cluster CA and join token stored in etcd", "key", SharedPKIKey, "dir", cfg.Dir)
	}
	p, err := pki.Load(cfg)
	if err != nil || len(shared.ServiceAccountKey) > 0 {
		return p, err
	}
	mine, err := p.Shared()
	if err != nil {
		return nil, err
	}
	data, err := json.Marshal(mine)
	if err != nil {
		return nil, err
	}
	txn, err := etcd.Txn(ctx).
		If(clientv3.Compare(clientv3.ModRevision(SharedPKIKey), "=", kv.ModRevision)).
		Then(clientv3.OpPut(SharedPKIKey, string(data))).
		Else(clientv3.OpGet(SharedPKIKey)).
		Commit()
	if err != nil {
		return nil, fmt.Errorf("storing the service account key: %w", err)
	}
	if txn.Succeeded {
		s.logger.Info("Added the service account signing key to the shared PKI", "key", SharedPKIKey)
		return p, nil
	}
	kvs := txn.Responses[0].GetResponseRange().Kvs
	if len(kvs) != 1 {
		return nil, fmt.Errorf("shared PKI %s vanished while updating it", SharedPKIKey)
	}
	return s.adoptPKI(ctx, etcd, kvs[0], cfg)
}

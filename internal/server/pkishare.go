package server

import (
	"context"
	"encoding/json"
	"fmt"

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
		return s.adoptPKI(resp.Kvs[0].Value, cfg)
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
	return s.adoptPKI(kvs[0].Value, cfg)
}

// adoptPKI seeds cfg.Dir with the stored material and loads it.
func (s *Server) adoptPKI(data []byte, cfg pki.Config) (*pki.PKI, error) {
	var shared pki.Shared
	if err := json.Unmarshal(data, &shared); err != nil {
		return nil, fmt.Errorf("decoding the shared PKI %s: %w", SharedPKIKey, err)
	}
	changed, err := pki.Seed(cfg.Dir, shared)
	if err != nil {
		return nil, fmt.Errorf("shared PKI %s: %w", SharedPKIKey, err)
	}
	if changed {
		s.logger.Info("Adopted the cluster CA and join token stored in etcd", "key", SharedPKIKey, "dir", cfg.Dir)
	}
	return pki.Load(cfg)
}

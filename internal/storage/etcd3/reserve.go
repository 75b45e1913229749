package etcd3

import (
	"context"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/svcnet/svcnet/internal/storage"
)

// writeOps are the reservation side effects of one write.
type writeOps struct {
	key     string
	reserve []string
	cmps    []clientv3.Cmp
	ops     []clientv3.Op
}

// newWriteOps turns opts into transaction compares and operations for the
// object at owner. Duplicates are dropped (etcd refuses a transaction that
// writes a key twice); a key both reserved and released is reserved.
func newWriteOps(owner string, opts storage.WriteOptions) writeOps {
	w := writeOps{key: owner}
	w.reserve = dedupe(opts.Reserve, nil, owner)
	for _, k := range w.reserve {
		w.cmps = append(w.cmps, clientv3.Compare(clientv3.CreateRevision(k), "=", 0))
		w.ops = append(w.ops, clientv3.OpPut(k, owner))
	}
	for _, k := range dedupe(opts.Release, w.reserve, owner) {
		w.ops = append(w.ops, clientv3.OpDelete(k))
	}
	return w
}

// checks are the reads of the Else branch: the object key first, then
// every reservation key, to tell which compare failed.
func (w writeOps) checks() []clientv3.Op {
	ops := make([]clientv3.Op, 0, 1+len(w.reserve))
	ops = append(ops, clientv3.OpGet(w.key))
	for _, k := range w.reserve {
		ops = append(ops, clientv3.OpGet(k, clientv3.WithKeysOnly()))
	}
	return ops
}

// reservedError names the first reservation key that exists in the Else
// reads of resp, or returns nil.
func (w writeOps) reservedError(resp *clientv3.TxnResponse) error {
	for i, k := range w.reserve {
		if len(rangeKvs(resp, i+1)) > 0 {
			return &storage.ReservedError{Key: k}
		}
	}
	return nil
}

// dedupe returns keys without duplicates, without the keys in skip and
// without self.
func dedupe(keys, skip []string, self string) []string {
	seen := map[string]bool{self: true}
	for _, k := range skip {
		seen[k] = true
	}
	var out []string
	for _, k := range keys {
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
}

// Reservations implements storage.Interface. prefix is used as given.
func (s *Store) Reservations(ctx context.Context, prefix string) (map[string]string, int64, error) {
	resp, err := s.client.Get(ctx, prefix, clientv3.WithPrefix())
	if err != nil {
		return nil, 0, fmt.Errorf("listing reservations %s: %w", prefix, err)
	}
	out := make(map[string]string, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		out[string(kv.Key)] = string(kv.Value)
	}
	return out, resp.Header.Revision, nil
}

// Reserve implements storage.Interface.
func (s *Store) Reserve(ctx context.Context, key, owner string) error {
	resp, err := s.client.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
		Then(clientv3.OpPut(key, owner)).
		Commit()
	if err != nil {
		return fmt.Errorf("reserving %s: %w", key, err)
	}
	if !resp.Succeeded {
		return &storage.ReservedError{Key: key}
	}
	return nil
}

// Release implements storage.Interface.
func (s *Store) Release(ctx context.Context, key, owner string) error {
	if owner == "" {
		if _, err := s.client.Delete(ctx, key); err != nil {
			return fmt.Errorf("releasing %s: %w", key, err)
		}
		return nil
	}
	// A value compare on a missing key fails, so a missing key is left
	// alone like one held by another owner.
	_, err := s.client.Txn(ctx).
		If(clientv3.Compare(clientv3.Value(key), "=", owner)).
		Then(clientv3.OpDelete(key)).
		Commit()
	if err != nil {
		return fmt.Errorf("releasing %s: %w", key, err)
	}
	return nil
}

package etcd3

import (
	"context"
	"fmt"
	"strings"

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
func (s *Store) newWriteOps(owner string, opts storage.WriteOptions) (writeOps, error) {
	w := writeOps{key: owner}
	w.reserve = dedupe(opts.Reserve, nil, owner)
	for _, k := range w.reserve {
		v, err := s.reservationValue(k, owner)
		if err != nil {
			return writeOps{}, err
		}
		w.cmps = append(w.cmps, clientv3.Compare(clientv3.CreateRevision(k), "=", 0))
		w.ops = append(w.ops, clientv3.OpPut(k, v))
	}
	for _, k := range dedupe(opts.Release, w.reserve, owner) {
		w.ops = append(w.ops, clientv3.OpDelete(k))
	}
	return w, nil
}

// objectsOf returns the ReservationObjects that key belongs to, or nil.
func (s *Store) objectsOf(key string) storage.ReservationObjects {
	for _, o := range s.objects {
		if strings.HasPrefix(key, o.Prefix()) {
			return o
		}
	}
	return nil
}

// reservationValue is what a reservation of key by owner stores: the
// owner itself, or the encoded object of a ReservationObjects prefix.
func (s *Store) reservationValue(key, owner string) (string, error) {
	o := s.objectsOf(key)
	if o == nil {
		return owner, nil
	}
	obj, err := o.NewReservation(key, owner)
	if err != nil {
		return "", fmt.Errorf("reserving %s: %w", key, err)
	}
	data, err := s.codec.encode(obj)
	if err != nil {
		return "", fmt.Errorf("reserving %s: %w", key, err)
	}
	return string(data), nil
}

// reservationOwner reads the owner back from a stored reservation value.
func (s *Store) reservationOwner(key string, value []byte) (string, error) {
	o := s.objectsOf(key)
	if o == nil {
		return string(value), nil
	}
	obj := o.Empty()
	if err := s.codec.decode(value, obj, 0); err != nil {
		return "", fmt.Errorf("reading reservation %s: %w", key, err)
	}
	return o.Owner(obj), nil
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
		owner, err := s.reservationOwner(string(kv.Key), kv.Value)
		if err != nil {
			return nil, 0, err
		}
		out[string(kv.Key)] = owner
	}
	return out, resp.Header.Revision, nil
}

// Reserve implements storage.Interface.
func (s *Store) Reserve(ctx context.Context, key, owner string) error {
	v, err := s.reservationValue(key, owner)
	if err != nil {
		return err
	}
	resp, err := s.client.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
		Then(clientv3.OpPut(key, v)).
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
	if s.objectsOf(key) != nil {
		return s.releaseObject(ctx, key, owner)
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

// releaseObject is Release for a ReservationObjects key: the owner is read
// from the stored object, and the key deleted only if it has not been
// written since.
func (s *Store) releaseObject(ctx context.Context, key, owner string) error {
	resp, err := s.client.Get(ctx, key)
	if err != nil {
		return fmt.Errorf("releasing %s: %w", key, err)
	}
	if len(resp.Kvs) == 0 {
		return nil
	}
	kv := resp.Kvs[0]
	got, err := s.reservationOwner(key, kv.Value)
	if err != nil {
		return err
	}
	if got != owner {
		return nil
	}
	// A write in between makes the compare fail: the key then stays, and a
	// repair loop looks at it again on its next run.
	_, err = s.client.Txn(ctx).
		If(clientv3.Compare(clientv3.ModRevision(key), "=", kv.ModRevision)).
		Then(clientv3.OpDelete(key)).
		Commit()
	if err != nil {
		return fmt.Errorf("releasing %s: %w", key, err)
	}
	return nil
}

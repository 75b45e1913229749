package etcd3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/svcnet/svcnet/internal/api"
	"github.com/svcnet/svcnet/internal/storage"
)

// DefaultBookmarkInterval is how often a watch that allows bookmarks asks
// etcd for its progress and sends a BOOKMARK. kube-apiserver sends them
// about once a minute; a few seconds keeps informers' resume points fresh
// at negligible cost.
const DefaultBookmarkInterval = 5 * time.Second

// Config configures a Store.
type Config struct {
	// Client is the etcd client. Required; the Store does not close it.
	Client *clientv3.Client
	// Scheme knows every stored type; api.NewScheme() when nil.
	Scheme *runtime.Scheme
	// Logger is slog.Default() when nil.
	Logger *slog.Logger
	// BookmarkInterval is DefaultBookmarkInterval when zero.
	BookmarkInterval time.Duration
	// ReservationObjects are the prefixes whose reservation keys hold API
	// objects instead of owner strings (ClusterIPs as IPAddresses).
	ReservationObjects []storage.ReservationObjects
}

// Store is a storage.Interface over etcd v3.
type Store struct {
	client           *clientv3.Client
	codec            *codec
	logger           *slog.Logger
	bookmarkInterval time.Duration
	leases           *leaseManager
	objects          []storage.ReservationObjects
}

var _ storage.Interface = (*Store)(nil)

// New returns a Store over cfg.Client.
func New(cfg Config) (*Store, error) {
	if cfg.Client == nil {
		return nil, errors.New("etcd3: Client is required")
	}
	if cfg.Scheme == nil {
		cfg.Scheme = api.NewScheme()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.BookmarkInterval <= 0 {
		cfg.BookmarkInterval = DefaultBookmarkInterval
	}
	return &Store{
		client:           cfg.Client,
		codec:            newCodec(cfg.Scheme),
		logger:           cfg.Logger,
		bookmarkInterval: cfg.BookmarkInterval,
		leases:           newLeaseManager(cfg.Client),
		objects:          cfg.ReservationObjects,
	}, nil
}

// Get implements storage.Interface.
func (s *Store) Get(ctx context.Context, key string, out runtime.Object) error {
	resp, err := s.client.Get(ctx, key)
	if err != nil {
		return fmt.Errorf("getting %s: %w", key, err)
	}
	if len(resp.Kvs) == 0 {
		return fmt.Errorf("%s: %w", key, storage.ErrNotFound)
	}
	kv := resp.Kvs[0]
	return s.codec.decode(kv.Value, out, kv.ModRevision)
}

// Create implements storage.Interface.
func (s *Store) Create(ctx context.Context, key string, obj, out runtime.Object, opts storage.WriteOptions) error {
	acc, err := meta.Accessor(obj)
	if err != nil {
		return err
	}
	if acc.GetResourceVersion() != "" {
		return errors.New("resourceVersion should not be set on objects to be created")
	}
	data, err := s.codec.encode(obj)
	if err != nil {
		return err
	}
	cmps := []clientv3.Cmp{clientv3.Compare(clientv3.CreateRevision(key), "=", 0)}
	w, err := s.newWriteOps(key, opts)
	if err != nil {
		return err
	}
	for {
		resp, err := s.commitPut(ctx, key, data, opts.TTL, append(cmps, w.cmps...), w.ops, w.checks())
		if err != nil {
			return fmt.Errorf("creating %s: %w", key, err)
		}
		if resp.Succeeded {
			return s.codec.decode(data, out, resp.Header.Revision)
		}
		if len(rangeKvs(resp, 0)) > 0 {
			return fmt.Errorf("%s: %w", key, storage.ErrExists)
		}
		if err := w.reservedError(resp); err != nil {
			return err
		}
		// The conflicting key went away between the two reads: try again.
	}
}

// GuaranteedUpdate implements storage.Interface.
func (s *Store) GuaranteedUpdate(ctx context.Context, key string, out runtime.Object, ignoreNotFound bool,
	preconditions *storage.Preconditions, tryUpdate storage.UpdateFunc) error {
	resp, err := s.client.Get(ctx, key)
	if err != nil {
		return fmt.Errorf("getting %s: %w", key, err)
	}
	kvs := resp.Kvs
	for {
		var cur *mvccpb.KeyValue
		if len(kvs) > 0 {
			cur = kvs[0]
		}
		if cur == nil && !ignoreNotFound {
			return fmt.Errorf("%s: %w", key, storage.ErrNotFound)
		}
		curObj := newLike(out)
		if cur != nil {
			if err := s.codec.decode(cur.Value, curObj, cur.ModRevision); err != nil {
				return err
			}
		}
		if err := checkPreconditions(preconditions, curObj); err != nil {
			return err
		}
		updated, opts, err := tryUpdate(curObj)
		if err != nil {
			return err
		}
		data, err := s.codec.encode(updated)
		if err != nil {
			return err
		}
		w, err := s.newWriteOps(key, opts)
		if err != nil {
			return err
		}
		if cur != nil && bytes.Equal(data, cur.Value) && len(w.ops) == 0 {
			return s.codec.decode(cur.Value, out, cur.ModRevision)
		}
		cmp := clientv3.Compare(clientv3.CreateRevision(key), "=", 0)
		if cur != nil {
			cmp = clientv3.Compare(clientv3.ModRevision(key), "=", cur.ModRevision)
		}
		txn, err := s.commitPut(ctx, key, data, opts.TTL, append([]clientv3.Cmp{cmp}, w.cmps...), w.ops, w.checks())
		if err != nil {
			return fmt.Errorf("updating %s: %w", key, err)
		}
		if txn.Succeeded {
			return s.codec.decode(data, out, txn.Header.Revision)
		}
		now := rangeKvs(txn, 0)
		if sameRevision(cur, now) {
			if err := w.reservedError(txn); err != nil {
				return err
			}
		}
		// Another writer got there first: compute again on its state.
		kvs = now
	}
}

// commitPut commits the transaction "if cmps then put data at key, ops
// else elseOps". With a positive ttl the key is put under a shared lease
// that expires it; without one any earlier lease is detached. A lease etcd
// no longer knows (revoked behind the store's back) is forgotten and the
// write tried once more under a new one.
func (s *Store) commitPut(ctx context.Context, key string, data []byte, ttl time.Duration,
	cmps []clientv3.Cmp, ops, elseOps []clientv3.Op) (*clientv3.TxnResponse, error) {
	for attempt := 0; ; attempt++ {
		var (
			lease   clientv3.LeaseID
			putOpts []clientv3.OpOption
		)
		if ttl > 0 {
			var err error
			if lease, err = s.leases.get(ctx, ttlSeconds(ttl)); err != nil {
				return nil, fmt.Errorf("granting a lease of %v: %w", ttl, err)
			}
			putOpts = append(putOpts, clientv3.WithLease(lease))
		}
		resp, err := s.client.Txn(ctx).
			If(cmps...).
			Then(append([]clientv3.Op{clientv3.OpPut(key, string(data), putOpts...)}, ops...)...).
			Else(elseOps...).
			Commit()
		if err != nil && lease != 0 && attempt == 0 && isLeaseNotFound(err) {
			s.leases.forget(lease)
			continue
		}
		return resp, err
	}
}

// Delete implements storage.Interface.
func (s *Store) Delete(ctx context.Context, key string, out runtime.Object, preconditions *storage.Preconditions,
	validate func(current runtime.Object) error, opts storage.WriteOptions) error {
	resp, err := s.client.Get(ctx, key)
	if err != nil {
		return fmt.Errorf("getting %s: %w", key, err)
	}
	kvs := resp.Kvs
	ops := []clientv3.Op{clientv3.OpDelete(key)}
	for _, k := range dedupe(opts.Release, nil, key) {
		ops = append(ops, clientv3.OpDelete(k))
	}
	for {
		if len(kvs) == 0 {
			return fmt.Errorf("%s: %w", key, storage.ErrNotFound)
		}
		cur := kvs[0]
		curObj := newLike(out)
		if err := s.codec.decode(cur.Value, curObj, cur.ModRevision); err != nil {
			return err
		}
		if err := checkPreconditions(preconditions, curObj); err != nil {
			return err
		}
		if validate != nil {
			if err := validate(curObj); err != nil {
				return err
			}
		}
		txn, err := s.client.Txn(ctx).
			If(clientv3.Compare(clientv3.ModRevision(key), "=", cur.ModRevision)).
			Then(ops...).
			Else(clientv3.OpGet(key)).
			Commit()
		if err != nil {
			return fmt.Errorf("deleting %s: %w", key, err)
		}
		if txn.Succeeded {
			return s.codec.decode(cur.Value, out, cur.ModRevision)
		}
		kvs = rangeKvs(txn, 0)
	}
}

// Count implements storage.Interface.
func (s *Store) Count(ctx context.Context, prefix string) (int64, error) {
	prefix = dirPrefix(prefix)
	resp, err := s.client.Get(ctx, prefix, clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		return 0, fmt.Errorf("counting %s: %w", prefix, err)
	}
	return resp.Count, nil
}

// CurrentRevision implements storage.Interface.
func (s *Store) CurrentRevision(ctx context.Context) (int64, error) {
	resp, err := s.client.Get(ctx, "/", clientv3.WithCountOnly())
	if err != nil {
		return 0, fmt.Errorf("reading current revision: %w", err)
	}
	return resp.Header.Revision, nil
}

// Compact discards every revision older than rev (the same as etcd's
// auto-compaction, on demand): lists and watches from them then give
// storage.ErrGone. Compacting an already compacted revision is a no-op.
func (s *Store) Compact(ctx context.Context, rev int64) error {
	if _, err := s.client.Compact(ctx, rev, clientv3.WithCompactPhysical()); err != nil && !isCompacted(err) {
		return fmt.Errorf("compacting to %d: %w", rev, err)
	}
	return nil
}

// checkPreconditions checks p against obj.
func checkPreconditions(p *storage.Preconditions, obj runtime.Object) error {
	if p == nil {
		return nil
	}
	acc, err := meta.Accessor(obj)
	if err != nil {
		return err
	}
	if p.UID != nil && *p.UID != acc.GetUID() {
		return &preconditionError{what: "UID", want: string(*p.UID), got: string(acc.GetUID())}
	}
	if p.ResourceVersion != nil && *p.ResourceVersion != acc.GetResourceVersion() {
		return &preconditionError{what: "ResourceVersion", want: *p.ResourceVersion, got: acc.GetResourceVersion()}
	}
	return nil
}

// rangeKvs returns the keys read by the i-th operation of a transaction.
func rangeKvs(resp *clientv3.TxnResponse, i int) []*mvccpb.KeyValue {
	if i >= len(resp.Responses) {
		return nil
	}
	if r := resp.Responses[i].GetResponseRange(); r != nil {
		return r.Kvs
	}
	return nil
}

// sameRevision reports whether a key read twice did not change.
func sameRevision(before *mvccpb.KeyValue, after []*mvccpb.KeyValue) bool {
	if before == nil {
		return len(after) == 0
	}
	return len(after) > 0 && after[0].ModRevision == before.ModRevision
}

// dirPrefix makes sure a key prefix ends in "/", so "/registry/pods"
// never matches "/registry/podsecurity/...".
func dirPrefix(p string) string {
	if strings.HasSuffix(p, "/") {
		return p
	}
	return p + "/"
}

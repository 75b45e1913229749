package cacher

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/svcnet/svcnet/internal/etcd"
	"github.com/svcnet/svcnet/internal/storage"
	"github.com/svcnet/svcnet/internal/storage/etcd3"
	"github.com/svcnet/svcnet/internal/storage/storagetest"
)

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// startEtcd runs an embedded etcd (no auto-compaction) until the test ends.
func startEtcd(t testing.TB) *clientv3.Client {
	t.Helper()
	e, err := etcd.New(etcd.Config{DataDir: t.TempDir(), Logger: quietLogger(), CompactionRetention: -1})
	if err != nil {
		t.Fatalf("etcd.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- e.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("etcd Run: %v", err)
		}
	})
	wctx, wcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer wcancel()
	client, err := e.Client(wctx)
	if err != nil {
		t.Fatalf("etcd Client: %v", err)
	}
	return client
}

// newEtcdStore returns an etcd3 store whose watches send periodic
// bookmarks every bookmarks.
func newEtcdStore(t testing.TB, client *clientv3.Client, bookmarks time.Duration) *etcd3.Store {
	t.Helper()
	s, err := etcd3.New(etcd3.Config{Client: client, Logger: quietLogger(), BookmarkInterval: bookmarks})
	if err != nil {
		t.Fatalf("etcd3.New: %v", err)
	}
	return s
}

// startCacher runs a Cacher over store for the resources until the test
// ends, and waits until it has synced.
func startCacher(t testing.TB, store storage.Interface, waitTimeout time.Duration, resources ...Resource) *Cacher {
	t.Helper()
	c, err := New(Config{Store: store, Resources: resources, WaitTimeout: waitTimeout, Logger: quietLogger()})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := c.Run(ctx); err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	waitFor(t, "the cache to sync", c.HasSynced)
	return c
}

// waitFor polls cond until it holds, failing the test after a deadline.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond) // poll interval, not synchronisation
	}
}

func configMaps(prefix string) Resource {
	return Resource{Prefix: prefix, NewFunc: func() runtime.Object { return &corev1.ConfigMap{} }}
}

// compactingCacher lets the conformance suite compact the etcd below.
type compactingCacher struct {
	*Cacher
	etcd *etcd3.Store
}

func (c compactingCacher) Compact(ctx context.Context, rev int64) error {
	return c.etcd.Compact(ctx, rev)
}

func TestConformance(t *testing.T) {
	client := startEtcd(t)
	storagetest.Run(t, func(t *testing.T) storage.Interface {
		store := newEtcdStore(t, client, 100*time.Millisecond)
		res := configMaps(storagetest.Prefix(t))
		// The suite keys objects by name alone, namespaced or not.
		res.KeyFunc = func(obj runtime.Object) (string, error) {
			return res.Prefix + obj.(*corev1.ConfigMap).Name, nil
		}
		return compactingCacher{Cacher: startCacher(t, store, DefaultWaitTimeout, res), etcd: store}
	})
}

// probe is a storage.Interface over a real store that counts the lists
// the store answers and can break the watches it hands out, to tell what
// the cache answered and to make its feed resume or relist.
type probe struct {
	storage.Interface
	lists atomic.Int64

	mu      sync.Mutex
	watches []watch.Interface
	opened  []storage.WatchOptions // every watch asked for
	gate    chan struct{}          // when not nil, Watch waits until it is closed
}

func (p *probe) GetList(ctx context.Context, prefix string, opts storage.ListOptions, listObj runtime.Object) error {
	p.lists.Add(1)
	return p.Interface.GetList(ctx, prefix, opts, listObj)
}

func (p *probe) Watch(ctx context.Context, key string, opts storage.WatchOptions) (watch.Interface, error) {
	p.mu.Lock()
	gate := p.gate
	p.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	w, err := p.Interface.Watch(ctx, key, opts)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.opened = append(p.opened, opts)
	if err == nil {
		p.watches = append(p.watches, w)
	}
	return w, err
}

// breakWatches stops every watch handed out; with hold, new watches wait
// until release.
func (p *probe) breakWatches(hold bool) {
	p.mu.Lock()
	ws := p.watches
	p.watches = nil
	if hold {
		p.gate = make(chan struct{})
	}
	p.mu.Unlock()
	for _, w := range ws {
		w.Stop()
	}
}

func (p *probe) release() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.gate != nil {
		close(p.gate)
		p.gate = nil
	}
}

func (p *probe) watchesOpened() []storage.WatchOptions {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]storage.WatchOptions(nil), p.opened...)
}

package etcd3

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/svcnet/svcnet/internal/storage"
)

// initialEventsEndAnnotation marks the bookmark that ends the initial
// events of a streaming list (sendInitialEvents).
const initialEventsEndAnnotation = "k8s.io/initial-events-end"

// resultBuffer is the number of events a slow consumer may lag behind
// before the watch goroutine blocks (and etcd buffers for it).
const resultBuffer = 100

// Watch implements storage.Interface.
//
// With ResourceVersion "" or "0", or SendInitialEvents, the watch first
// sends an ADDED event for every matching object at the newest revision.
// Otherwise it sends the changes after ResourceVersion; a compacted
// revision gives storage.ErrGone, or, when etcd compacts it while the watch
// starts, an ERROR event with a 410 status. With a Predicate, an object
// that starts matching arrives as ADDED and one that stops matching as
// DELETED (its previous state at the revision of the change).
func (s *Store) Watch(ctx context.Context, key string, opts storage.WatchOptions) (watch.Interface, error) {
	if opts.Recursive {
		key = dirPrefix(key)
	}
	if opts.NewObject == nil {
		return nil, errors.New("etcd3: watch needs NewObject to decode events")
	}
	rv, err := parseRV(opts.ResourceVersion)
	if err != nil {
		return nil, errBadRV(opts.ResourceVersion)
	}
	keyOpts := func(extra ...clientv3.OpOption) []clientv3.OpOption {
		if opts.Recursive {
			extra = append(extra, clientv3.WithPrefix())
		}
		return extra
	}

	initial := opts.SendInitialEvents || opts.ResourceVersion == "" || opts.ResourceVersion == "0"
	var (
		startRev   int64
		initialKVs []*mvccpb.KeyValue
	)
	if initial {
		var getOpts []clientv3.OpOption
		if opts.ResourceVersion == "0" {
			getOpts = append(getOpts, clientv3.WithSerializable())
		}
		resp, err := s.client.Get(ctx, key, keyOpts(getOpts...)...)
		if err != nil {
			return nil, fmt.Errorf("reading initial state of %s: %w", key, err)
		}
		startRev, initialKVs = resp.Header.Revision, resp.Kvs
		if rv > startRev {
			return nil, errTooLargeRV(rv, startRev)
		}
	} else {
		// A read at rv tells whether etcd still has it; a future revision
		// is fine, the watch then waits for it.
		_, err := s.client.Get(ctx, key, keyOpts(clientv3.WithRev(rv), clientv3.WithCountOnly())...)
		switch {
		case isCompacted(err):
			return nil, errWatchTooOld(rv, 0)
		case err != nil && !isFutureRev(err):
			return nil, fmt.Errorf("watching %s: %w", key, err)
		}
		startRev = rv
	}

	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	w := &watcher{
		store:    s,
		opts:     opts,
		result:   make(chan watch.Event, resultBuffer),
		done:     make(chan struct{}),
		ctx:      wctx,
		cancel:   cancel,
		startRev: startRev,
		etcd:     clientv3.NewWatcher(s.client),
	}
	watchOpts := keyOpts(clientv3.WithRev(startRev+1), clientv3.WithPrevKV())
	if opts.AllowBookmarks {
		watchOpts = append(watchOpts, clientv3.WithProgressNotify())
	}
	wch := w.etcd.Watch(wctx, key, watchOpts...)
	go w.run(wctx, wch, initialKVs)
	return w, nil
}

// watcher is one running watch.
type watcher struct {
	store    *Store
	opts     storage.WatchOptions
	result   chan watch.Event
	done     chan struct{}
	ctx      context.Context // of the etcd watch
	cancel   context.CancelFunc
	stopOnce sync.Once
	startRev int64
	etcd     clientv3.Watcher
}

// Stop ends the watch and waits until its goroutine has released
// everything; the result channel is then closed.
func (w *watcher) Stop() {
	w.stopOnce.Do(w.cancel)
	<-w.done
}

var _ storage.ProgressRequester = (*watcher)(nil)

// RequestProgress implements storage.ProgressRequester: etcd answers with
// a progress notification once the watch has sent everything up to the
// current revision, which arrives as a BOOKMARK when AllowBookmarks.
func (w *watcher) RequestProgress(ctx context.Context) error {
	// The etcd client finds the watch's gRPC stream by the outgoing
	// metadata of the context (require-leader): a context without it
	// would ask on a stream of its own and never be answered here.
	md, _ := metadata.FromOutgoingContext(w.ctx)
	return w.etcd.RequestProgress(metadata.NewOutgoingContext(ctx, md))
}

// ResultChan implements watch.Interface.
func (w *watcher) ResultChan() <-chan watch.Event { return w.result }

func (w *watcher) run(ctx context.Context, wch clientv3.WatchChan, initialKVs []*mvccpb.KeyValue) {
	defer close(w.done)
	defer close(w.result)
	defer w.etcd.Close()
	defer w.cancel()

	for _, kv := range initialKVs {
		obj := w.opts.NewObject()
		if err := w.store.decodeStored(string(kv.Key), kv.Value, obj, kv.ModRevision); err != nil {
			w.fail(ctx, err)
			return
		}
		ok, err := w.matches(obj)
		if err != nil {
			w.fail(ctx, err)
			return
		}
		if ok && !w.send(ctx, watch.Event{Type: watch.Added, Object: obj}) {
			return
		}
	}
	if w.opts.SendInitialEvents && w.opts.AllowBookmarks {
		if !w.send(ctx, w.bookmark(w.startRev, true)) {
			return
		}
	}

	var tick <-chan time.Time
	if w.opts.AllowBookmarks {
		t := time.NewTicker(w.store.bookmarkInterval)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick:
			// The answer arrives on wch as a progress notification once
			// the watch has caught up; errors end the watch there.
			_ = w.etcd.RequestProgress(ctx)
		case resp, ok := <-wch:
			if !ok {
				if ctx.Err() == nil {
					w.fail(ctx, errors.New("etcd watch channel closed"))
				}
				return
			}
			if !w.handle(ctx, resp) {
				return
			}
		}
	}
}

// handle sends the events of one etcd watch response; false ends the
// watch.
func (w *watcher) handle(ctx context.Context, resp clientv3.WatchResponse) bool {
	if resp.CompactRevision != 0 {
		status := apierrors.NewResourceExpired(errWatchTooOld(w.startRev, resp.CompactRevision).Error()).ErrStatus
		w.send(ctx, watch.Event{Type: watch.Error, Object: &status})
		return false
	}
	if err := resp.Err(); err != nil {
		if ctx.Err() == nil {
			w.fail(ctx, err)
		}
		return false
	}
	if resp.IsProgressNotify() {
		if w.opts.AllowBookmarks {
			return w.send(ctx, w.bookmark(resp.Header.Revision, false))
		}
		return true
	}
	for _, ev := range resp.Events {
		out, ok, err := w.convert(ev)
		if err != nil {
			w.fail(ctx, err)
			return false
		}
		if ok && !w.send(ctx, out) {
			return false
		}
	}
	return true
}

// convert turns an etcd event into the watch event a client with the
// predicate sees, if any.
func (w *watcher) convert(ev *clientv3.Event) (watch.Event, bool, error) {
	rev := ev.Kv.ModRevision
	var prev runtime.Object
	prevMatch := false
	if ev.PrevKv != nil {
		prev = w.opts.NewObject()
		// An object that disappears (or stops matching) is reported in
		// its last state at the revision of the change.
		if err := w.store.decodeStored(string(ev.PrevKv.Key), ev.PrevKv.Value, prev, rev); err != nil {
			return watch.Event{}, false, err
		}
		var err error
		if prevMatch, err = w.matches(prev); err != nil {
			return watch.Event{}, false, err
		}
	}
	if ev.Type == mvccpb.DELETE {
		return watch.Event{Type: watch.Deleted, Object: prev}, prev != nil && prevMatch, nil
	}
	cur := w.opts.NewObject()
	if err := w.store.decodeStored(string(ev.Kv.Key), ev.Kv.Value, cur, rev); err != nil {
		return watch.Event{}, false, err
	}
	curMatch, err := w.matches(cur)
	if err != nil {
		return watch.Event{}, false, err
	}
	switch {
	case prev == nil || ev.IsCreate():
		return watch.Event{Type: watch.Added, Object: cur}, curMatch, nil
	case curMatch && prevMatch:
		return watch.Event{Type: watch.Modified, Object: cur}, true, nil
	case curMatch:
		return watch.Event{Type: watch.Added, Object: cur}, true, nil
	case prevMatch:
		return watch.Event{Type: watch.Deleted, Object: prev}, true, nil
	}
	return watch.Event{}, false, nil
}

func (w *watcher) matches(obj runtime.Object) (bool, error) {
	if w.opts.Predicate == nil {
		return true, nil
	}
	return w.opts.Predicate(obj)
}

// bookmark returns a BOOKMARK event at rev.
func (w *watcher) bookmark(rev int64, initialEventsEnd bool) watch.Event {
	obj := w.opts.NewObject()
	if acc, err := meta.Accessor(obj); err == nil {
		acc.SetResourceVersion(formatRV(rev))
		if initialEventsEnd {
			acc.SetAnnotations(map[string]string{initialEventsEndAnnotation: "true"})
		}
	}
	return watch.Event{Type: watch.Bookmark, Object: obj}
}

// send delivers ev unless the watch ends first.
func (w *watcher) send(ctx context.Context, ev watch.Event) bool {
	select {
	case w.result <- ev:
		return true
	case <-ctx.Done():
		return false
	}
}

// fail sends an ERROR event with a 500 status for err.
func (w *watcher) fail(ctx context.Context, err error) {
	if status.Code(err) == codes.Canceled {
		// The client (or the whole store) is closing: not an error.
		w.store.logger.Debug("Watch ended by cancellation", "err", err)
	} else {
		w.store.logger.Error("Watch ended with an error", "err", err)
	}
	st := apierrors.NewInternalError(err).ErrStatus
	w.send(ctx, watch.Event{Type: watch.Error, Object: &st})
}

package cacher

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/svcnet/svcnet/internal/storage"
)

// Timing of the feed.
const (
	// progressInterval is how often the feed asks the store for progress
	// again while a read waits or changes wait to be applied: a lost
	// request (etcd drops one that arrives while the watch is behind)
	// costs a waiting read at most this much. kube-apiserver asks every
	// 100ms too.
	progressInterval = 100 * time.Millisecond
	// minBackoff and maxBackoff bound the pause before a broken watch is
	// opened again; the pause doubles while watches keep failing at once.
	minBackoff = 100 * time.Millisecond
	maxBackoff = 10 * time.Second
)

// initialEventsEnd annotates the bookmark that ends the initial events of
// a watch with SendInitialEvents.
const initialEventsEnd = "k8s.io/initial-events-end"

// errWatchClosed means the store ended a watch without an error event.
var errWatchClosed = errors.New("watch closed")

// feed keeps one cache current from a watch of the store: a full list
// (initial events) at the start and after 410 Gone, the changes after
// the cache's revision when a watch merely ended.
type feed struct {
	cache   *cache
	store   storage.Interface
	prefix  string
	newFunc func() runtime.Object
	keyFunc func(runtime.Object) (string, error)
	logger  *slog.Logger
}

// run feeds the cache until ctx ends.
func (f *feed) run(ctx context.Context) {
	defer f.cache.setUnready()
	relist := true
	backoff := minBackoff
	for {
		s := &session{feed: f, relist: relist}
		err := s.watch(ctx)
		f.cache.setUnready()
		if ctx.Err() != nil {
			return
		}
		if s.live {
			backoff = minBackoff
		}
		relist = storage.IsGone(err) || (relist && !s.live)
		f.logger.Warn("Watch of cache ended", "prefix", f.prefix, "revision", f.cache.revision(), "relist", relist,
			"retryIn", backoff, "err", err)
		timer := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// session is one watch of the feed.
type session struct {
	feed   *feed
	relist bool
	// live: the cache follows this watch (after the initial events of a
	// relist, at once when resuming).
	live     bool
	building []entry // the initial events of a relist
	sorted   bool    // building is in key order
	// pending holds the changes of the newest revision seen, applied once
	// a later revision or a bookmark shows that revision complete.
	pending    []change
	pendingRev int64
	progress   storage.ProgressRequester // nil if the watch cannot be asked
	askedAt    time.Time                 // zero: no request unanswered
}

// watch opens one watch and applies what it sends until it ends.
func (s *session) watch(ctx context.Context) error {
	f := s.feed
	opts := storage.WatchOptions{Recursive: true, AllowBookmarks: true, NewObject: f.newFunc}
	if s.relist {
		opts.SendInitialEvents = true
		s.sorted = true
	} else {
		opts.ResourceVersion = strconv.FormatInt(f.cache.revision(), 10)
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := f.store.Watch(wctx, f.prefix, opts)
	if err != nil {
		return err
	}
	defer w.Stop()
	s.progress, _ = w.(storage.ProgressRequester)
	if !s.relist {
		// The cache is current again once the store says where the watch
		// is: ask at once.
		s.live = true
		s.ask(wctx)
	}
	tick := time.NewTicker(progressInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-f.cache.progress:
			s.ask(wctx)
		case <-tick.C:
			if f.cache.waiters.Load() > 0 || len(s.pending) > 0 {
				s.askedAt = time.Time{} // unanswered for a whole tick: ask again
				s.ask(wctx)
			}
		case ev, ok := <-w.ResultChan():
			if !ok {
				return errWatchClosed
			}
			if err := s.handle(ev); err != nil {
				return err
			}
			if len(s.pending) > 0 && len(w.ResultChan()) == 0 {
				// Nothing more queued: a bookmark will complete the
				// newest revision.
				s.ask(wctx)
			}
		}
	}
}

// ask requests a bookmark unless one is on its way.
func (s *session) ask(ctx context.Context) {
	if s.progress == nil || !s.askedAt.IsZero() {
		return
	}
	s.askedAt = time.Now()
	if err := s.progress.RequestProgress(ctx); err != nil && ctx.Err() == nil {
		s.feed.logger.Debug("Requesting watch progress failed", "prefix", s.feed.prefix, "err", err)
	}
}

// handle applies one event.
func (s *session) handle(ev watch.Event) error {
	f := s.feed
	switch ev.Type {
	case watch.Error:
		return watchError(ev.Object)
	case watch.Bookmark:
		rev, err := revisionOf(ev.Object)
		if err != nil {
			return err
		}
		s.askedAt = time.Time{}
		if !s.live {
			if endsInitialEvents(ev.Object) {
				s.finishList(rev)
			}
			return nil
		}
		s.flush(max(rev, s.pendingRev))
		return nil
	case watch.Added, watch.Modified, watch.Deleted:
	default:
		return fmt.Errorf("unexpected %s event", ev.Type)
	}
	key, err := f.keyFunc(ev.Object)
	if err != nil {
		return err
	}
	rev, err := revisionOf(ev.Object)
	if err != nil {
		return err
	}
	if !s.live {
		if n := len(s.building); n > 0 && s.building[n-1].key >= key {
			s.sorted = false
		}
		s.building = append(s.building, entry{key: key, obj: ev.Object})
		return nil
	}
	if len(s.pending) > 0 && rev > s.pendingRev {
		s.flush(s.pendingRev)
	}
	s.pending = append(s.pending, change{key: key, obj: ev.Object, deleted: ev.Type == watch.Deleted})
	s.pendingRev = rev
	return nil
}

// finishList swaps in the initial events of a relist, read at rev.
func (s *session) finishList(rev int64) {
	if !s.sorted {
		sort.Slice(s.building, func(i, j int) bool { return s.building[i].key < s.building[j].key })
	}
	s.feed.cache.replace(s.building, rev)
	s.feed.logger.Info("Listed into cache", "prefix", s.feed.prefix, "objects", len(s.building), "revision", rev)
	s.building, s.live = nil, true
}

// flush applies the pending changes; the cache is then at rev.
func (s *session) flush(rev int64) {
	s.feed.cache.apply(s.pending, rev)
	clear(s.pending) // drop the references: the cache holds the objects
	s.pending = s.pending[:0]
}

// watchError turns the status of an ERROR event into an error, wrapping
// storage.ErrGone for 410.
func watchError(obj runtime.Object) error {
	err := apierrors.FromObject(obj)
	if apierrors.IsResourceExpired(err) || apierrors.IsGone(err) {
		return fmt.Errorf("%w: %v", storage.ErrGone, err)
	}
	return err
}

func revisionOf(obj runtime.Object) (int64, error) {
	acc, err := meta.Accessor(obj)
	if err != nil {
		return 0, err
	}
	rev, err := strconv.ParseInt(acc.GetResourceVersion(), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("event resourceVersion %q: %w", acc.GetResourceVersion(), err)
	}
	return rev, nil
}

func endsInitialEvents(obj runtime.Object) bool {
	acc, err := meta.Accessor(obj)
	return err == nil && acc.GetAnnotations()[initialEventsEnd] == "true"
}

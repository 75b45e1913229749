// Package keyqueue is the work loop every svcnet controller shares: a
// rate-limited queue of object keys ("namespace/name"), drained by workers
// that call the controller's sync function and retry a failed key with
// per-key exponential backoff. The queue never hands one key to two
// workers at once, so a sync function may assume it alone owns its key.
package keyqueue

import (
	"context"
	"errors"
	"log/slog"
	"sync"

	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
)

// ErrRetry marks a sync error that is expected and needs no log line (a
// cache that lags behind the API, work still in progress): the key is
// retried with backoff all the same. Wrap it with %w.
var ErrRetry = errors.New("retry later")

// Config configures a Queue.
type Config struct {
	// Name names the queue in client-go's workqueue metrics.
	Name string
	// Sync reconciles one key. A nil error forgets the key's failures; any
	// other error requeues it with backoff.
	Sync func(ctx context.Context, key string) error
	// Logger receives Started, and every failed sync whose error is not
	// ErrRetry as a warning: Failed with KeyName set to the key.
	Logger *slog.Logger
	// Started is the message logged when the workers start, with their
	// count ("Started deployment controller").
	Started string
	// Failed is the message of a failed sync ("Synced deployment with
	// errors"), KeyName the log key of the object's key ("deployment").
	Failed, KeyName string
	// RateLimiter spaces the retries of a failed key; nil uses client-go's
	// default controller limiter (5 ms doubling to 1000 s, plus an overall
	// 10 qps bucket).
	RateLimiter workqueue.TypedRateLimiter[string]
}

// Queue is a rate-limited key queue with its sync loop. Its embedded
// workqueue takes keys (Add, AddAfter) from event handlers.
type Queue struct {
	workqueue.TypedRateLimitingInterface[string]
	cfg Config
}

// New returns a Queue; Run starts its workers.
func New(cfg Config) *Queue {
	limiter := cfg.RateLimiter
	if limiter == nil {
		limiter = workqueue.DefaultTypedControllerRateLimiter[string]()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Queue{
		TypedRateLimitingInterface: workqueue.NewTypedRateLimitingQueueWithConfig(limiter,
			workqueue.TypedRateLimitingQueueConfig[string]{Name: cfg.Name}),
		cfg: cfg,
	}
}

// Enqueue adds the key of obj, which may be a deleted object's tombstone.
func (q *Queue) Enqueue(obj any) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err != nil {
		return
	}
	q.Add(key)
}

// Handler returns event handlers that enqueue every added, updated and
// deleted object.
func (q *Queue) Handler() cache.ResourceEventHandlerFuncs {
	return cache.ResourceEventHandlerFuncs{
		AddFunc:    q.Enqueue,
		UpdateFunc: func(_, obj any) { q.Enqueue(obj) },
		DeleteFunc: q.Enqueue,
	}
}

// Run waits for the informers of synced, logs Started and syncs keys with
// workers goroutines (at least one) until ctx is done. It then shuts the
// queue down and returns once every worker has finished its current key.
func (q *Queue) Run(ctx context.Context, workers int, synced ...cache.InformerSynced) {
	defer q.ShutDown()
	if !cache.WaitForCacheSync(ctx.Done(), synced...) {
		return
	}
	workers = max(workers, 1)
	if q.cfg.Started != "" {
		q.cfg.Logger.Info(q.cfg.Started, "workers", workers)
	}
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for q.processNext(ctx) {
			}
		}()
	}
	<-ctx.Done()
	q.ShutDown()
	wg.Wait()
}

func (q *Queue) processNext(ctx context.Context) bool {
	key, quit := q.Get()
	if quit {
		return false
	}
	defer q.Done(key)
	err := q.cfg.Sync(ctx, key)
	if err == nil {
		q.Forget(key)
		return true
	}
	if !errors.Is(err, ErrRetry) {
		q.cfg.Logger.Warn(q.cfg.Failed, q.cfg.KeyName, key, "err", err)
	}
	q.AddRateLimited(key)
	return true
}

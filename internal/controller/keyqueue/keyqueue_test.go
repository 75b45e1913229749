package keyqueue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
)

// recorder counts syncs per key and fails each key a set number of times.
type recorder struct {
	mu       sync.Mutex
	syncs    map[string]int
	failures map[string]int
	errs     map[string]error
	log      lockedBuffer
	inSync   map[string]bool
	overlaps int
	done     chan string
}

func newRecorder() *recorder {
	return &recorder{syncs: map[string]int{}, failures: map[string]int{}, errs: map[string]error{},
		inSync: map[string]bool{}, done: make(chan string, 100)}
}

func (r *recorder) sync(_ context.Context, key string) error {
	r.mu.Lock()
	if r.inSync[key] {
		r.overlaps++
	}
	r.inSync[key] = true
	r.syncs[key]++
	n := r.syncs[key]
	fail := n <= r.failures[key]
	r.mu.Unlock()
	for range 100 { // widen the window in which two workers could overlap
		runtime.Gosched()
	}
	r.mu.Lock()
	r.inSync[key] = false
	r.mu.Unlock()
	if fail {
		return r.errs[key]
	}
	r.done <- key
	return nil
}

func TestQueueRetriesAndReports(t *testing.T) {
	tests := []struct {
		name         string
		failures     int
		err          error
		wantSyncs    int
		wantWarnings int
	}{
		{name: "success forgets the key", wantSyncs: 1},
		{name: "errors are retried and reported", failures: 2, err: errors.New("boom"), wantSyncs: 3, wantWarnings: 2},
		{name: "ErrRetry is retried quietly", failures: 2, err: fmt.Errorf("stale cache: %w", ErrRetry), wantSyncs: 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRecorder()
			r.failures["ns/a"] = tc.failures
			r.errs["ns/a"] = tc.err
			q := New(Config{Name: "test", Sync: r.sync,
				RateLimiter: workqueue.NewTypedItemExponentialFailureRateLimiter[string](time.Millisecond, 10*time.Millisecond),
				Logger:      slog.New(slog.NewTextHandler(&r.log, nil)), Failed: "Synced test object with errors", KeyName: "object"})
			ctx, cancel := context.WithCancel(context.Background())
			stopped := make(chan struct{})
			go func() { q.Run(ctx, 2); close(stopped) }()
			q.Enqueue(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "a"}})
			select {
			case <-r.done:
			case <-time.After(30 * time.Second):
				t.Fatal("key never synced successfully")
			}
			cancel()
			<-stopped
			r.mu.Lock()
			defer r.mu.Unlock()
			if got := r.syncs["ns/a"]; got != tc.wantSyncs {
				t.Errorf("got %d syncs, want %d", got, tc.wantSyncs)
			}
			if got := strings.Count(r.log.String(), "level=WARN msg=\"Synced test object with errors\" object=ns/a"); got != tc.wantWarnings {
				t.Errorf("got %d warnings, want %d in log:\n%s", got, tc.wantWarnings, r.log.String())
			}
		})
	}
}

func TestQueueNeverSyncsOneKeyTwiceAtOnce(t *testing.T) {
	r := newRecorder()
	q := New(Config{Name: "test", Sync: r.sync})
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { q.Run(ctx, 4); close(stopped) }()
	h := q.Handler()
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p"}}
	for range 50 {
		h.OnAdd(pod, false)
		h.OnUpdate(pod, pod)
	}
	h.OnDelete(cache.DeletedFinalStateUnknown{Key: "ns/gone", Obj: nil})
	seen := map[string]bool{}
	deadline := time.After(30 * time.Second)
	for !seen["ns/p"] || !seen["ns/gone"] {
		select {
		case k := <-r.done:
			seen[k] = true
		case <-deadline:
			t.Fatalf("got synced keys %v, want ns/p and ns/gone", seen)
		}
	}
	cancel()
	<-stopped
	if r.overlaps != 0 {
		t.Errorf("got %d overlapping syncs of one key, want 0", r.overlaps)
	}
	if !q.ShuttingDown() {
		t.Error("queue still running after Run returned")
	}
}

// lockedBuffer is a log sink that workers may write to concurrently.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

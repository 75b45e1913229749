package proxy

import (
	"context"
	"sync"
	"testing"
	"time"
)

func TestBucketWait(t *testing.T) {
	t0 := time.Unix(1000, 0)
	tests := []struct {
		name   string
		tokens float64
		after  time.Duration
		want   time.Duration
	}{
		{name: "full bucket", tokens: 2, after: 0, want: 0},
		{name: "one token left", tokens: 1, after: 0, want: 0},
		{name: "empty", tokens: 0, after: 0, want: time.Second},
		{name: "empty, refilling", tokens: 0, after: 400 * time.Millisecond, want: 600 * time.Millisecond},
		{name: "refilled", tokens: 0, after: time.Second, want: 0},
		{name: "capped at burst", tokens: 2, after: time.Hour, want: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := &bucket{tokens: tc.tokens, burst: 2, interval: time.Second, at: t0}
			if got := b.wait(t0.Add(tc.after)); got != tc.want {
				t.Errorf("wait: got %v, want %v", got, tc.want)
			}
			if b.tokens > b.burst {
				t.Errorf("tokens %v above burst %v", b.tokens, b.burst)
			}
		})
	}
	b := &bucket{tokens: 0, burst: 2, interval: 0, at: t0}
	if got := b.wait(t0); got != 0 {
		t.Errorf("no interval: got %v, want 0", got)
	}
}

// TestRunnerLoneChangeIsPrompt: with a minimum interval far longer than
// the test, the start-up full sync and one change right after it both run
// (the burst), while a third stays pending.
func TestRunnerLoneChangeIsPrompt(t *testing.T) {
	var mu sync.Mutex
	var fulls []bool
	synced := make(chan struct{}, 10)
	r := NewRunner(func(_ context.Context, full bool) error {
		mu.Lock()
		fulls = append(fulls, full)
		mu.Unlock()
		synced <- struct{}{}
		return nil
	}, time.Hour, time.Hour, 2)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		r.Run(ctx)
		close(done)
	}()
	defer func() {
		cancel()
		<-done
	}()
	waitSync := func(what string) {
		t.Helper()
		select {
		case <-synced:
		case <-time.After(30 * time.Second):
			t.Fatalf("no %s within 30s", what)
		}
	}
	waitSync("start-up sync")
	r.Trigger()
	waitSync("sync of a lone change")
	mu.Lock()
	got := append([]bool(nil), fulls...)
	mu.Unlock()
	if len(got) != 2 || !got[0] || got[1] {
		t.Errorf("syncs (full?): got %v, want [true false]", got)
	}
	// The bucket is now empty: the next change waits for the interval.
	r.Trigger()
	select {
	case <-synced:
		t.Errorf("third sync ran within the burst of 2")
	case <-time.After(100 * time.Millisecond):
	}
}

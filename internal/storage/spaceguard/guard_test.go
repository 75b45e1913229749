package spaceguard

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime"

	"github.com/svcnet/svcnet/internal/storage"
)

// writes counts the writes that reach the store.
type writes struct {
	storage.Interface
	n atomic.Int32
}

func (w *writes) Create(context.Context, string, runtime.Object, runtime.Object, storage.WriteOptions) error {
	w.n.Add(1)
	return nil
}

func (w *writes) GuaranteedUpdate(context.Context, string, runtime.Object, bool, *storage.Preconditions, storage.UpdateFunc) error {
	w.n.Add(1)
	return nil
}

func (w *writes) Delete(context.Context, string, runtime.Object, *storage.Preconditions, func(runtime.Object) error, storage.WriteOptions) error {
	w.n.Add(1)
	return nil
}

func TestGuard(t *testing.T) {
	var free atomic.Uint64
	free.Store(100 << 20)
	store := &writes{}
	g, err := New(Config{Store: store, Dir: "/data", Reserve: 64 << 20, Interval: time.Millisecond,
		Free: func(string) (uint64, error) { return free.Load(), nil }, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	defer func() { cancel(); <-done }()
	ops := []struct {
		name string
		do   func() error
	}{
		{"create", func() error { return g.Create(ctx, "k", nil, nil, storage.WriteOptions{}) }},
		{"update", func() error { return g.GuaranteedUpdate(ctx, "k", nil, false, nil, nil) }},
	}
	// waitFor polls until the guard has read want.
	waitFor := func(want uint64) {
		t.Helper()
		free.Store(want)
		for deadline := time.Now().Add(5 * time.Second); g.free.Load() != want; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("guard never read %d free bytes", want)
			}
		}
	}
	for _, phase := range []struct {
		name    string
		free    uint64
		refused bool
	}{
		{"room", 100 << 20, false},
		{"below the reserve", 10 << 20, true},
		{"freed again", 65 << 20, false},
	} {
		waitFor(phase.free)
		for _, op := range ops {
			before := store.n.Load()
			err := op.do()
			if got := storage.IsInsufficientStorage(err); got != phase.refused {
				t.Errorf("%s, %s: got %v, want refused %v", phase.name, op.name, err, phase.refused)
			}
			if reached := store.n.Load() != before; reached == phase.refused {
				t.Errorf("%s, %s: write reached the store: %v", phase.name, op.name, reached)
			}
		}
		if err := g.Delete(ctx, "k", nil, nil, nil, storage.WriteOptions{}); err != nil {
			t.Errorf("%s: delete: %v, want it through", phase.name, err)
		}
	}
}

package spaceguard

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/svcnet/svcnet/internal/storage"
)

// Defaults of Config.
const (
	// DefaultReserve leaves etcd room for its log, compaction and lease
	// expiries after API writes stop.
	DefaultReserve = 64 << 20
	// DefaultInterval is how often the free space is read.
	DefaultInterval = time.Second
)

// Config configures a Guard.
type Config struct {
	// Store is the guarded store.
	Store storage.Interface
	// Dir lies on the filesystem to watch (the etcd data dir).
	Dir string
	// Reserve is the free space in bytes below which writes are refused;
	// DefaultReserve when zero.
	Reserve uint64
	// Interval between reads of the free space; DefaultInterval when zero.
	Interval time.Duration
	// Free returns the bytes available to the process under dir; statfs
	// when nil.
	Free   func(dir string) (uint64, error)
	Logger *slog.Logger
}

// Guard is a storage.Interface that refuses writes while the disk is
// (nearly) full.
type Guard struct {
	storage.Interface
	cfg  Config
	free atomic.Uint64
}

var _ storage.Interface = (*Guard)(nil)

// New reads the free space once and returns the Guard; Run keeps it
// current.
func New(cfg Config) (*Guard, error) {
	if cfg.Store == nil || cfg.Dir == "" {
		return nil, errors.New("spaceguard: Store and Dir are required")
	}
	if cfg.Reserve == 0 {
		cfg.Reserve = DefaultReserve
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Free == nil {
		cfg.Free = statfsFree
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	g := &Guard{Interface: cfg.Store, cfg: cfg}
	free, err := cfg.Free(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("spaceguard: %w", err)
	}
	g.free.Store(free)
	return g, nil
}

// Run reads the free space every Interval until ctx ends, logging when
// writes stop and when they resume.
func (g *Guard) Run(ctx context.Context) error {
	t := time.NewTicker(g.cfg.Interval)
	defer t.Stop()
	low := g.free.Load() < g.cfg.Reserve
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		free, err := g.cfg.Free(g.cfg.Dir)
		if err != nil {
			continue // keep the last reading
		}
		g.free.Store(free)
		switch nowLow := free < g.cfg.Reserve; {
		case nowLow && !low:
			g.cfg.Logger.Error("Stopped API writes: disk nearly full", "dir", g.cfg.Dir, "freeBytes", free, "reserveBytes", g.cfg.Reserve)
			low = true
		case !nowLow && low:
			g.cfg.Logger.Info("Resumed API writes: disk space freed", "dir", g.cfg.Dir, "freeBytes", free)
			low = false
		}
	}
}

// check refuses a write while free space is below the reserve.
func (g *Guard) check() error {
	if free := g.free.Load(); free < g.cfg.Reserve {
		return fmt.Errorf("%w: %d MiB free on the disk of %s, writes need %d MiB; free some space to resume",
			storage.ErrInsufficientStorage, free>>20, g.cfg.Dir, g.cfg.Reserve>>20)
	}
	return nil
}

// Create refuses while the disk is nearly full.
func (g *Guard) Create(ctx context.Context, key string, obj, out runtime.Object, opts storage.WriteOptions) error {
	if err := g.check(); err != nil {
		return err
	}
	return g.Interface.Create(ctx, key, obj, out, opts)
}

// GuaranteedUpdate refuses while the disk is nearly full.
func (g *Guard) GuaranteedUpdate(ctx context.Context, key string, out runtime.Object, ignoreNotFound bool,
	preconditions *storage.Preconditions, tryUpdate storage.UpdateFunc) error {
	if err := g.check(); err != nil {
		return err
	}
	return g.Interface.GuaranteedUpdate(ctx, key, out, ignoreNotFound, preconditions, tryUpdate)
}

// statfsFree returns the bytes available to unprivileged users under dir
// (what is left before etcd, whatever its user, hits ENOSPC is at least
// that).
func statfsFree(dir string) (uint64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return st.Bavail * uint64(st.Bsize), nil
}

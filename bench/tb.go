package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"testing"
)

// errFatal is what a Fatal or Skip call of tb unwinds the stack with; main
// recovers it, runs the cleanups and exits non-zero.
var errFatal = errors.New("bench aborted")

// tb lets the end-to-end framework, written for tests, run in a program.
// Only the methods the framework calls are implemented; the embedded nil
// interface supplies testing.TB's private method.
type tb struct {
	testing.TB
	mu       sync.Mutex
	failed   bool
	cleanups []func()
	tmpDirs  []string
}

var _ testing.TB = (*tb)(nil)

func (t *tb) Helper()      {}
func (t *tb) Name() string { return "bench" }

func (t *tb) Logf(format string, args ...any) {
	slog.Info(fmt.Sprintf(format, args...))
}

func (t *tb) Errorf(format string, args ...any) {
	t.mu.Lock()
	t.failed = true
	t.mu.Unlock()
	slog.Error(fmt.Sprintf(format, args...))
}

func (t *tb) Fatalf(format string, args ...any) {
	t.Errorf(format, args...)
	panic(errFatal)
}

func (t *tb) Fatal(args ...any) { t.Fatalf("%s", fmt.Sprint(args...)) }

func (t *tb) Skipf(format string, args ...any) { t.Fatalf("skipped: "+format, args...) }

func (t *tb) Skip(args ...any) { t.Fatalf("skipped: %s", fmt.Sprint(args...)) }

func (t *tb) Failed() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.failed
}

func (t *tb) Cleanup(f func()) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.cleanups = append(t.cleanups, f)
}

func (t *tb) TempDir() string {
	dir, err := os.MkdirTemp("", "svcnet-bench-")
	if err != nil {
		t.Fatalf("temp dir: %v", err)
	}
	t.mu.Lock()
	t.tmpDirs = append(t.tmpDirs, dir)
	t.mu.Unlock()
	return dir
}

// runCleanups runs the registered cleanups last-first, then removes the
// temporary directories.
func (t *tb) runCleanups() {
	t.mu.Lock()
	fs, dirs := t.cleanups, t.tmpDirs
	t.cleanups, t.tmpDirs = nil, nil
	t.mu.Unlock()
	for i := len(fs) - 1; i >= 0; i-- {
		fs[i]()
	}
	for _, d := range dirs {
		_ = os.RemoveAll(d)
	}
}

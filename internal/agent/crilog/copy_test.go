package crilog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// entryLine formats one entry as containerd writes it: nanoseconds always
// present, in the zone of t.
func entryLine(t time.Time, stream, tag, content string) string {
	return t.Format("2006-01-02T15:04:05.000000000Z07:00") + " " + stream + " " + tag + " " + content + "\n"
}

// at returns a fixed test time s seconds and ms milliseconds in.
func at(s, ms int) time.Time {
	return time.Date(2024, 5, 1, 10, 0, s, ms*int(time.Millisecond), time.UTC)
}

func writeLog(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "0.log")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestCopy(t *testing.T) {
	all := Options{TailLines: -1}
	// mixed has three lines: "one" on stdout, "two" on stderr in two
	// partial entries, "three" on stdout.
	mixed := entryLine(at(1, 0), "stdout", "F", "one") +
		entryLine(at(2, 500), "stderr", "P", "t") +
		entryLine(at(3, 0), "stderr", "F", "wo") +
		entryLine(at(4, 0), "stdout", "F", "three")
	var many strings.Builder
	for i := range 5000 {
		many.WriteString(entryLine(at(i%60, 0), "stdout", "F", fmt.Sprintf("line %d", i)))
	}
	long := strings.Repeat("x", 3*tailChunk)
	tests := []struct {
		name string
		log  string
		opts Options
		want string
	}{
		{name: "empty file", log: "", opts: all, want: ""},
		{name: "stdout and stderr in file order", log: mixed, opts: all, want: "one\ntwo\nthree\n"},
		{name: "partial entries joined",
			log: entryLine(at(1, 0), "stdout", "P", "hel") + entryLine(at(1, 1), "stdout", "P", "lo ") +
				entryLine(at(1, 2), "stdout", "F", "world"),
			opts: all, want: "hello world\n"},
		{name: "empty lines kept",
			log:  entryLine(at(1, 0), "stdout", "F", "") + entryLine(at(1, 0), "stdout", "F", "x"),
			opts: all, want: "\nx\n"},
		{name: "unterminated last line copied as is",
			log:  entryLine(at(1, 0), "stdout", "F", "a") + strings.TrimSuffix(entryLine(at(2, 0), "stdout", "F", "b"), "\n"),
			opts: all, want: "a\nb"},
		{name: "trailing partial without its end",
			log:  entryLine(at(1, 0), "stdout", "F", "a") + entryLine(at(2, 0), "stdout", "P", "b"),
			opts: all, want: "a\nb"},
		{name: "timestamps from the first entry of each line",
			log:  mixed,
			opts: Options{TailLines: -1, Timestamps: true},
			want: "2024-05-01T10:00:01Z one\n2024-05-01T10:00:02.5Z two\n2024-05-01T10:00:04Z three\n"},
		{name: "timestamps keep the zone",
			log:  entryLine(time.Date(2024, 5, 1, 12, 0, 0, 1, time.FixedZone("", 7200)), "stdout", "F", "x"),
			opts: Options{TailLines: -1, Timestamps: true},
			want: "2024-05-01T12:00:00.000000001+02:00 x\n"},
		{name: "since skips older lines",
			log: mixed, opts: Options{TailLines: -1, SinceTime: at(2, 0)}, want: "two\nthree\n"},
		{name: "since equal to a line keeps it",
			log: mixed, opts: Options{TailLines: -1, SinceTime: at(4, 0)}, want: "three\n"},
		{name: "since judges a line by its first entry",
			log: mixed, opts: Options{TailLines: -1, SinceTime: at(3, 0)}, want: "three\n"},
		{name: "since after everything",
			log: mixed, opts: Options{TailLines: -1, SinceTime: at(59, 0)}, want: ""},
		{name: "tail 0", log: mixed, opts: Options{TailLines: 0}, want: ""},
		{name: "tail 1", log: mixed, opts: Options{TailLines: 1}, want: "three\n"},
		{name: "tail counts partial runs as one line",
			log: mixed, opts: Options{TailLines: 2}, want: "two\nthree\n"},
		{name: "tail more than available", log: mixed, opts: Options{TailLines: 10}, want: "one\ntwo\nthree\n"},
		{name: "tail exactly available", log: mixed, opts: Options{TailLines: 3}, want: "one\ntwo\nthree\n"},
		{name: "tail counts a trailing partial run as a line",
			log:  mixed + entryLine(at(5, 0), "stdout", "P", "fo") + entryLine(at(5, 1), "stdout", "P", "ur"),
			opts: Options{TailLines: 2}, want: "three\nfour"},
		{name: "tail ignores malformed lines",
			log:  mixed + "garbage\n\n" + entryLine(at(5, 0), "stdout", "F", "four") + "more garbage\n",
			opts: Options{TailLines: 2}, want: "three\nfour\n"},
		{name: "tail with timestamps and since",
			log:  mixed,
			opts: Options{TailLines: 2, Timestamps: true, SinceTime: at(4, 0)},
			want: "2024-05-01T10:00:04Z three\n"},
		{name: "tail across read chunks", log: many.String(), opts: Options{TailLines: 3},
			want: "line 4997\nline 4998\nline 4999\n"},
		{name: "tail over a line longer than a chunk",
			log:  entryLine(at(1, 0), "stdout", "F", "a") + entryLine(at(2, 0), "stdout", "F", long) + entryLine(at(3, 0), "stdout", "F", "c"),
			opts: Options{TailLines: 2}, want: long + "\nc\n"},
		{name: "limit cuts a line", log: mixed, opts: Options{TailLines: -1, LimitBytes: 6}, want: "one\ntw"},
		{name: "limit at a line end", log: mixed, opts: Options{TailLines: -1, LimitBytes: 4}, want: "one\n"},
		{name: "limit counts timestamps",
			log: mixed, opts: Options{TailLines: -1, LimitBytes: 10, Timestamps: true}, want: "2024-05-01"},
		{name: "limit above the size", log: mixed, opts: Options{TailLines: -1, LimitBytes: 1 << 20}, want: "one\ntwo\nthree\n"},
		{name: "limit with tail", log: mixed, opts: Options{TailLines: 2, LimitBytes: 5}, want: "two\nt"},
		{name: "malformed lines skipped",
			log: "not a log line\n" +
				"\n" +
				"2024-05-01T10:00:00Z\n" +
				"2024-05-01T10:00:00Z stdout\n" +
				"later stdout F x\n" +
				"2024-05-01T10:00:00Z stdin F x\n" +
				"2024-05-01T10:00:00Z stdout Q x\n" +
				"\x00\xff\xfe binary\n" +
				entryLine(at(1, 0), "stdout", "F", "ok") +
				`{"log":"docker\n","stream":"stdout"}` + "\n" +
				entryLine(at(2, 0), "stderr", "F", "fine"),
			opts: all, want: "ok\nfine\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := writeLog(t, tc.log)
			var out bytes.Buffer
			if err := Copy(t.Context(), &out, path, tc.opts); err != nil {
				t.Fatalf("Copy: %v", err)
			}
			if got := out.String(); got != tc.want {
				t.Errorf("got %q, want %q", abbrev(got), abbrev(tc.want))
			}
		})
	}
}

// abbrev shortens long strings in failure messages.
func abbrev(s string) string {
	if len(s) > 200 {
		return s[:100] + "..." + s[len(s)-100:]
	}
	return s
}

func TestCopyMissingFile(t *testing.T) {
	err := Copy(t.Context(), &bytes.Buffer{}, filepath.Join(t.TempDir(), "none.log"), Options{TailLines: -1})
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("got err %v, want one wrapping fs.ErrNotExist", err)
	}
}

func TestCopyWriteError(t *testing.T) {
	path := writeLog(t, entryLine(at(1, 0), "stdout", "F", "x"))
	werr := errors.New("client gone")
	err := Copy(t.Context(), failWriter{werr}, path, Options{TailLines: -1})
	if !errors.Is(err, werr) {
		t.Fatalf("got err %v, want one wrapping %v", err, werr)
	}
}

type failWriter struct{ err error }

func (w failWriter) Write([]byte) (int, error) { return 0, w.err }

// syncWriter collects output from Copy's goroutine and reports each write
// and flush, so a test can wait for output without sleeping.
type syncWriter struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	flushes int
	changed chan struct{}
}

func newSyncWriter() *syncWriter { return &syncWriter{changed: make(chan struct{}, 1)} }

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	w.notify()
	return len(p), nil
}

// Flush makes syncWriter an http.Flusher, as a ResponseWriter is.
func (w *syncWriter) Flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.flushes++
	w.notify()
}

func (w *syncWriter) notify() {
	select {
	case w.changed <- struct{}{}:
	default:
	}
}

func (w *syncWriter) state() (string, int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String(), w.flushes
}

// waitFor waits until cond holds for the output and flush count, failing
// the test after a deadline.
func (w *syncWriter) waitFor(t *testing.T, what string, cond func(out string, flushes int) bool) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		out, flushes := w.state()
		if cond(out, flushes) {
			return
		}
		select {
		case <-w.changed:
		case <-deadline:
			t.Fatalf("timed out waiting for %s; output so far %q after %d flushes", what, out, flushes)
		}
	}
}

// waitOutput waits until the output is exactly want.
func (w *syncWriter) waitOutput(t *testing.T, want string) {
	t.Helper()
	w.waitFor(t, fmt.Sprintf("output %q", want), func(out string, _ int) bool { return out == want })
}

// waitBatches waits until Copy has polled the file n more times.
func (w *syncWriter) waitBatches(t *testing.T, n int) {
	t.Helper()
	_, start := w.state()
	w.waitFor(t, fmt.Sprintf("%d more flushes", n), func(_ string, flushes int) bool { return flushes >= start+n })
}

func appendLog(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
}

// startCopy runs Copy in the background and returns a function that stops
// it and returns its error.
func startCopy(t *testing.T, w *syncWriter, path string, opts Options) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- Copy(ctx, w, path, opts) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("Copy did not return after its context ended")
			}
		})
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

func TestCopyFollow(t *testing.T) {
	path := writeLog(t, entryLine(at(1, 0), "stdout", "F", "old")+entryLine(at(2, 0), "stdout", "F", "first"))
	w := newSyncWriter()
	stop := startCopy(t, w, path, Options{TailLines: 1, Follow: true, Timestamps: true})
	w.waitOutput(t, "2024-05-01T10:00:02Z first\n")

	appendLog(t, path, entryLine(at(3, 0), "stderr", "F", "second"))
	w.waitOutput(t, "2024-05-01T10:00:02Z first\n2024-05-01T10:00:03Z second\n")

	// A partial entry is copied as soon as it is written, but a raw line
	// torn across two writes is held back until its newline arrives.
	torn := entryLine(at(4, 0), "stdout", "F", "third")
	appendLog(t, path, entryLine(at(4, 0), "stdout", "P", "thi")+torn[:len(torn)-4])
	w.waitOutput(t, "2024-05-01T10:00:02Z first\n2024-05-01T10:00:03Z second\n2024-05-01T10:00:04Z thi")
	w.waitBatches(t, 2)
	if out, _ := w.state(); strings.Contains(out, "thith") {
		t.Fatalf("got %q, a torn line copied", out)
	}
	appendLog(t, path, torn[len(torn)-4:]+"garbage\n"+entryLine(at(5, 0), "stdout", "F", "fourth"))
	want := "2024-05-01T10:00:02Z first\n2024-05-01T10:00:03Z second\n" +
		"2024-05-01T10:00:04Z thithird\n2024-05-01T10:00:05Z fourth\n"
	w.waitOutput(t, want)

	if err := stop(); err != nil {
		t.Fatalf("got err %v from a followed Copy whose context ended, want nil", err)
	}
	if out, _ := w.state(); out != want {
		t.Errorf("got %q after stop, want %q", out, want)
	}
}

func TestCopyFollowSinceAndLimit(t *testing.T) {
	path := writeLog(t, entryLine(at(1, 0), "stdout", "F", "old"))
	w := newSyncWriter()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- Copy(ctx, w, path, Options{TailLines: -1, Follow: true, SinceTime: at(2, 0), LimitBytes: 8})
	}()
	w.waitBatches(t, 1)
	appendLog(t, path, entryLine(at(1, 500), "stdout", "F", "late but old"))
	appendLog(t, path, entryLine(at(2, 0), "stdout", "F", "new"))
	w.waitOutput(t, "new\n")
	appendLog(t, path, entryLine(at(3, 0), "stdout", "F", "newer"))
	// The limit, not the context, ends this Copy.
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("got err %v, want nil at the byte limit", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Copy did not return at its byte limit")
	}
	if out, _ := w.state(); out != "new\nnewe" {
		t.Errorf("got %q, want %q", out, "new\nnewe")
	}
}

func TestCopyFollowTailZero(t *testing.T) {
	path := writeLog(t, entryLine(at(1, 0), "stdout", "F", "old"))
	w := newSyncWriter()
	stop := startCopy(t, w, path, Options{TailLines: 0, Follow: true})
	w.waitBatches(t, 1)
	appendLog(t, path, entryLine(at(2, 0), "stdout", "F", "new"))
	w.waitOutput(t, "new\n")
	if err := stop(); err != nil {
		t.Fatalf("got err %v, want nil", err)
	}
}

func TestCopyCancelledWithoutFollow(t *testing.T) {
	var many strings.Builder
	for range 3 * ctxCheckEvery {
		many.WriteString(entryLine(at(1, 0), "stdout", "F", "x"))
	}
	path := writeLog(t, many.String())
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	var out bytes.Buffer
	err := Copy(ctx, &out, path, Options{TailLines: -1})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got err %v, want context.Canceled", err)
	}
	if out.Len() >= 3*ctxCheckEvery*2 {
		t.Errorf("got all %d bytes, want Copy to stop early", out.Len())
	}
}

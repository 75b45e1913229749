package agent

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/svcnet/svcnet/internal/agent/cri"
	"github.com/svcnet/svcnet/internal/agent/crilog"
)

// logPollInterval is how often a followed log is checked for new output.
const logPollInterval = 200 * time.Millisecond

// tailChunk is how much of a log is read at a time, from the end, to find
// where its last lines start.
const tailChunk = 32 * 1024

// LogsHandler serves /containerLogs/<ns>/<pod>/<container>, with
// ?previous=true for the previous run, ?follow=true to stream until the
// client goes away, ?tailLines=N for the last N lines only and
// ?limitBytes=N to stop after N bytes. Logs carry no timestamps, so
// timestamps and sinceSeconds are not honoured.
func (a *Agent) LogsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/containerLogs/"), "/")
		if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
			http.NotFound(w, r)
			return
		}
		q := r.URL.Query()
		if h, ok := a.container(parts[0], parts[1], parts[2]); ok {
			if cc, ok := h.(*cri.Container); ok {
				serveCRILog(w, r, cc, parts[1], parts[2])
				return
			}
		}
		path := a.LogPath(parts[0], parts[1], parts[2])
		if q.Get("previous") == "true" {
			path += ".previous"
		}
		f, err := os.Open(path)
		if errors.Is(err, os.ErrNotExist) {
			http.Error(w, "container "+parts[2]+" has no log", http.StatusNotFound)
			return
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		defer f.Close()
		if n, err := strconv.ParseInt(q.Get("tailLines"), 10, 64); err == nil && n >= 0 {
			off, err := tailOffset(f, n)
			if err == nil {
				_, err = f.Seek(off, io.SeekStart)
			}
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
		}
		var out io.Writer = w
		if n, err := strconv.ParseInt(q.Get("limitBytes"), 10, 64); err == nil && n > 0 {
			out = &limitWriter{w: w, left: n}
		}
		w.Header().Set("Content-Type", "text/plain")
		if _, err := io.Copy(out, f); err != nil || q.Get("follow") != "true" {
			return
		}
		flusher, _ := w.(http.Flusher)
		t := time.NewTicker(logPollInterval)
		defer t.Stop()
		for {
			if flusher != nil {
				flusher.Flush()
			}
			select {
			case <-r.Context().Done():
				return
			case <-t.C:
			}
			if _, err := io.Copy(out, f); err != nil {
				return
			}
		}
	})
}

// serveCRILog serves the log of a container of the CRI runtime, written
// in the CRI log format, with every option of kubectl logs.
func serveCRILog(w http.ResponseWriter, r *http.Request, cc *cri.Container, pod, name string) {
	q := r.URL.Query()
	path := cc.LogPath(q.Get("previous") == "true")
	if path == "" {
		// kubelet's answers (Bad Request) for a container with no such run.
		msg := fmt.Sprintf("previous terminated container %q in pod %q not found", name, pod)
		if q.Get("previous") != "true" {
			msg = fmt.Sprintf("container %q in pod %q is waiting to start: %s", name, pod, cc.State().Reason)
		}
		http.Error(w, msg, http.StatusBadRequest)
		return
	}
	opts := crilog.Options{Timestamps: q.Get("timestamps") == "true", Follow: q.Get("follow") == "true", TailLines: -1}
	if n, err := strconv.ParseInt(q.Get("tailLines"), 10, 64); err == nil && n >= 0 {
		opts.TailLines = n
	}
	if n, err := strconv.ParseInt(q.Get("limitBytes"), 10, 64); err == nil && n > 0 {
		opts.LimitBytes = n
	}
	if n, err := strconv.ParseInt(q.Get("sinceSeconds"), 10, 64); err == nil && n > 0 {
		opts.SinceTime = time.Now().Add(-time.Duration(n) * time.Second)
	}
	if t, err := time.Parse(time.RFC3339, q.Get("sinceTime")); err == nil {
		opts.SinceTime = t
	}
	if _, err := os.Stat(path); err != nil {
		http.Error(w, "container "+name+" has no log", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	_ = crilog.Copy(r.Context(), w, path, opts)
}

// container returns a container of pod ns/name of this node, running or
// not.
func (a *Agent) container(ns, name, container string) (containerHandle, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, w := range a.workers {
		w.mu.Lock()
		p := w.pod
		h, ok := w.containers[container]
		w.mu.Unlock()
		if p.Namespace == ns && p.Name == name && ok {
			return h, true
		}
	}
	return nil, false
}

// tailOffset returns where the last n lines of f start (a final line
// without newline counts as a line).
func tailOffset(f *os.File, n int64) (int64, error) {
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	end := st.Size()
	if n == 0 {
		return end, nil
	}
	buf := make([]byte, tailChunk)
	pos, seen := end, int64(0)
	for pos > 0 {
		size := min(int64(len(buf)), pos)
		pos -= size
		chunk := buf[:size]
		if _, err := f.ReadAt(chunk, pos); err != nil && !errors.Is(err, io.EOF) {
			return 0, err
		}
		for i := len(chunk) - 1; i >= 0; i-- {
			if chunk[i] != '\n' || pos+int64(i) == end-1 {
				continue
			}
			if seen++; seen == n {
				return pos + int64(i) + 1, nil
			}
		}
	}
	return 0, nil
}

// errLimitReached ends a copy once limitBytes have been written.
var errLimitReached = errors.New("log limit reached")

// limitWriter writes at most left more bytes to w.
type limitWriter struct {
	w    io.Writer
	left int64
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if l.left <= 0 {
		return 0, errLimitReached
	}
	cut := p
	if int64(len(cut)) > l.left {
		cut = p[:l.left]
	}
	n, err := l.w.Write(cut)
	l.left -= int64(n)
	if err == nil && n < len(p) {
		err = errLimitReached
	}
	return n, err
}

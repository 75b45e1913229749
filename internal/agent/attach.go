package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/svcnet/svcnet/internal/agent/cri"
	"github.com/svcnet/svcnet/internal/agent/exec"
	"github.com/svcnet/svcnet/internal/agent/runtime"
)

// attachPollInterval is how often an attach session looks for new output
// in the container's log and for the end of its run.
const attachPollInterval = 100 * time.Millisecond

// AttachHandler serves /attach/<ns>/<pod>/<container>?stdin=&stdout=
// &stderr=: over the WebSocket remote command protocol, the client's
// input goes to the stdin of the running container process (a FIFO, for
// containers with stdin: true) and the output it writes from now on to the
// client, until its run ends. The output comes from the container's log
// file, where stdout and stderr are one stream: both are sent as stdout
// (as stderr only when stdout is not requested). A TTY is not offered.
func (a *Agent) AttachHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/attach/"), "/")
		if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
			http.NotFound(w, r)
			return
		}
		q := r.URL.Query()
		on := func(k string) bool { v := q.Get(k); return v == "true" || v == "1" }
		opts := exec.Options{Stdin: on("stdin"), Stdout: on("stdout"), Stderr: on("stderr")}
		if !opts.Stdin && !opts.Stdout && !opts.Stderr {
			http.Error(w, exec.ErrNoStreams.Error(), http.StatusBadRequest)
			return
		}
		rc, spec, ok := a.runningContainer(parts[0], parts[1], parts[2])
		if !ok {
			http.Error(w, fmt.Sprintf("container not found (%q)", parts[2]), http.StatusNotFound)
			return
		}
		err := exec.Serve(w, r, opts, func(ctx context.Context, s exec.Streams) (int, error) {
			switch c := rc.(type) {
			case *cri.Container:
				opts.TTY = on("tty")
				return c.Attach(ctx, opts, s)
			case *runtime.Container:
				return attach(ctx, c, spec, s)
			}
			return -1, errors.New("container cannot be attached to")
		})
		if errors.Is(err, exec.ErrNotWebSocket) {
			http.Error(w, err.Error(), http.StatusBadRequest)
		}
	})
}

// attach streams one session until the current run of rc ends (its exit
// code is returned) or ctx ends.
func attach(ctx context.Context, rc *runtime.Container, spec runtime.ContainerSpec, s exec.Streams) (int, error) {
	pid := rc.State().Pid
	if s.Stdin != nil {
		stdin, done := rc.Stdin()
		go func() {
			defer done()
			if stdin == nil {
				_, _ = io.Copy(io.Discard, s.Stdin)
				return
			}
			_, _ = io.Copy(stdin, s.Stdin)
		}()
	}
	out := s.Stdout
	if out == nil {
		out = s.Stderr
	}
	if out == nil {
		out = io.Discard
	}
	f, err := os.Open(spec.LogPath)
	if err != nil {
		return -1, fmt.Errorf("opening container log: %w", err)
	}
	defer f.Close()
	if _, err := f.Seek(0, io.SeekEnd); err != nil {
		return -1, err
	}
	t := time.NewTicker(attachPollInterval)
	defer t.Stop()
	for {
		if _, err := io.Copy(out, f); err != nil {
			return -1, err
		}
		st := rc.State()
		if st.Pid != pid {
			// The run has ended: its output is complete.
			_, _ = io.Copy(out, f)
			for _, term := range []*runtime.Termination{st.Terminated, st.Last} {
				if term != nil {
					return term.ExitCode, nil
				}
			}
			return 0, nil
		}
		select {
		case <-ctx.Done():
			return 0, nil
		case <-t.C:
		}
	}
}

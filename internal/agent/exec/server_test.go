package exec

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
	utilexec "k8s.io/client-go/util/exec"
)

// fixedSizes is a TerminalSizeQueue giving one size, then none.
type fixedSizes struct {
	sizes chan remotecommand.TerminalSize
}

func (f *fixedSizes) Next() *remotecommand.TerminalSize {
	s, ok := <-f.sizes
	if !ok {
		return nil
	}
	return &s
}

// TestServeWithClientGo drives Serve with client-go's WebSocket executor,
// the code path of kubectl exec.
func TestServeWithClientGo(t *testing.T) {
	tests := []struct {
		name      string
		query     string
		protocols []string
		stdin     string
		tty       bool
		run       Runner
		wantOut   string
		wantErr   string
		wantCode  int
	}{
		{
			name:  "stdout and stderr, exit 0",
			query: "command=x&stdout=true&stderr=true",
			run: func(_ context.Context, s Streams) (int, error) {
				fmt.Fprint(s.Stdout, "out")
				fmt.Fprint(s.Stderr, "err")
				return 0, nil
			},
			wantOut: "out", wantErr: "err",
		},
		{
			name:  "non-zero exit code",
			query: "command=x&stdout=true&stderr=true",
			run: func(context.Context, Streams) (int, error) {
				return 3, nil
			},
			wantCode: 3,
		},
		{
			name:  "large output is chunked",
			query: "command=x&stdout=true",
			run: func(_ context.Context, s Streams) (int, error) {
				_, err := s.Stdout.Write(bytes.Repeat([]byte("a"), 3*maxChunk+7))
				return 0, err
			},
			wantOut: strings.Repeat("a", 3*maxChunk+7),
		},
		{
			name:  "stdin reaches end of file (v5 close)",
			query: "command=x&stdin=true&stdout=true&stderr=true",
			stdin: "hello\nworld\n",
			run: func(_ context.Context, s Streams) (int, error) {
				_, err := io.Copy(s.Stdout, s.Stdin)
				return 0, err
			},
			wantOut: "hello\nworld\n",
		},
		{
			name:      "v4 client",
			query:     "command=x&stdout=true&stderr=true",
			protocols: []string{ProtocolV4},
			run: func(_ context.Context, s Streams) (int, error) {
				fmt.Fprint(s.Stdout, "v4")
				return 1, nil
			},
			wantOut: "v4", wantCode: 1,
		},
		{
			name:  "tty gets resizes",
			query: "command=x&stdin=true&stdout=true&tty=true",
			tty:   true,
			run: func(ctx context.Context, s Streams) (int, error) {
				if s.Stderr != nil {
					return 1, errors.New("stderr with a tty")
				}
				select {
				case size := <-s.Resize:
					fmt.Fprintf(s.Stdout, "%dx%d", size.Width, size.Height)
					return 0, nil
				case <-ctx.Done():
					return 1, ctx.Err()
				}
			},
			wantOut: "100x30",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				opts, err := ParseOptions(r.URL.Query())
				if err != nil {
					http.Error(w, err.Error(), http.StatusBadRequest)
					return
				}
				if err := Serve(w, r, opts, tc.run); errors.Is(err, ErrNotWebSocket) {
					http.Error(w, err.Error(), http.StatusBadRequest)
				}
			}))
			defer srv.Close()
			protocols := tc.protocols
			if protocols == nil {
				protocols = []string{ProtocolV5}
			}
			ex, err := remotecommand.NewWebSocketExecutorForProtocols(&rest.Config{Host: srv.URL}, "GET",
				srv.URL+"/exec?"+tc.query, protocols...)
			if err != nil {
				t.Fatal(err)
			}
			var stdout, stderr bytes.Buffer
			opts := remotecommand.StreamOptions{Stdout: &stdout, Tty: tc.tty}
			if !tc.tty {
				opts.Stderr = &stderr
			}
			if strings.Contains(tc.query, "stdin=true") {
				opts.Stdin = strings.NewReader(tc.stdin)
			}
			if tc.tty {
				q := &fixedSizes{sizes: make(chan remotecommand.TerminalSize, 1)}
				q.sizes <- remotecommand.TerminalSize{Width: 100, Height: 30}
				close(q.sizes)
				opts.TerminalSizeQueue = q
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err = ex.StreamWithContext(ctx, opts)
			code := 0
			var ce utilexec.CodeExitError
			switch {
			case errors.As(err, &ce):
				code = ce.Code
			case err != nil:
				t.Fatalf("got error %v, want none", err)
			}
			if code != tc.wantCode {
				t.Errorf("got exit code %d, want %d", code, tc.wantCode)
			}
			if stdout.String() != tc.wantOut {
				t.Errorf("got stdout %q, want %q", stdout.String(), tc.wantOut)
			}
			if stderr.String() != tc.wantErr {
				t.Errorf("got stderr %q, want %q", stderr.String(), tc.wantErr)
			}
		})
	}
}

func TestServeRunError(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = Serve(w, r, Options{Command: []string{"x"}, Stdout: true}, func(context.Context, Streams) (int, error) {
			return -1, errors.New("no such program")
		})
	}))
	defer srv.Close()
	ex, err := remotecommand.NewWebSocketExecutor(&rest.Config{Host: srv.URL}, "GET", srv.URL+"/exec")
	if err != nil {
		t.Fatal(err)
	}
	err = ex.StreamWithContext(context.Background(), remotecommand.StreamOptions{Stdout: io.Discard})
	want := "Internal error occurred: error executing command in container: no such program"
	if err == nil || err.Error() != want {
		t.Errorf("got %v, want %q", err, want)
	}
}

func TestServeNotWebSocket(t *testing.T) {
	r := httptest.NewRequest(http.MethodPost, "/exec?command=x&stdout=true", nil)
	r.Header.Set("Upgrade", "SPDY/3.1")
	r.Header.Set("Connection", "Upgrade")
	w := httptest.NewRecorder()
	err := Serve(w, r, Options{Command: []string{"x"}, Stdout: true}, func(context.Context, Streams) (int, error) {
		t.Error("runner called for a SPDY request")
		return 0, nil
	})
	if !errors.Is(err, ErrNotWebSocket) {
		t.Errorf("got %v, want ErrNotWebSocket", err)
	}
}

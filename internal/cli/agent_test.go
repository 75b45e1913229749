package cli

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/svcnet/svcnet/internal/pki"
)

// notifyWriter signals every log line written to it.
type notifyWriter chan struct{}

func (w notifyWriter) Write(p []byte) (int, error) {
	select {
	case w <- struct{}{}:
	default:
	}
	return len(p), nil
}

func caServer(t *testing.T, p *pki.PKI, ln net.Listener) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write(p.CAPEM())
	}))
	if ln != nil {
		srv.Listener.Close()
		srv.Listener = ln
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

func TestJoinClusterRetriesUnreachableServer(t *testing.T) {
	p, err := pki.Load(pki.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	fast := backoff{first: 10 * time.Millisecond, max: 50 * time.Millisecond}

	t.Run("server comes up later", func(t *testing.T) {
		// A port with nothing listening: connections are refused.
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		retried := make(notifyWriter, 1)
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		type result struct {
			host string
			err  error
		}
		done := make(chan result, 1)
		go func() {
			cfg, err := joinCluster(ctx, "https://"+addr, p.Token(), fast, slog.New(slog.NewTextHandler(retried, nil)))
			if err != nil {
				done <- result{err: err}
				return
			}
			done <- result{host: cfg.Host}
		}()
		select {
		case <-retried:
		case r := <-done:
			t.Fatalf("joinCluster returned %+v before the server was up, want retries", r)
		}
		ln, err = net.Listen("tcp", addr)
		if err != nil {
			t.Skipf("port %s taken meanwhile: %v", addr, err)
		}
		caServer(t, p, ln)
		if r := <-done; r.err != nil || r.host != "https://"+addr {
			t.Fatalf("got %+v, want a config for https://%s", r, addr)
		}
	})

	t.Run("CA mismatch ends at once", func(t *testing.T) {
		other, err := pki.Load(pki.Config{Dir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		srv := caServer(t, other, nil)
		retried := make(notifyWriter, 1)
		if _, err := joinCluster(context.Background(), srv.URL, p.Token(), fast, slog.New(slog.NewTextHandler(retried, nil))); err == nil {
			t.Fatal("joined a server with another CA")
		}
		if len(retried) != 0 {
			t.Errorf("retried a server whose CA does not match the token")
		}
	})

	t.Run("gives up when the context ends", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		ctx, cancel := context.WithCancel(context.Background())
		retried := make(notifyWriter, 1)
		done := make(chan error, 1)
		go func() {
			_, err := joinCluster(ctx, "https://"+addr, p.Token(), fast, slog.New(slog.NewTextHandler(retried, nil)))
			done <- err
		}()
		<-retried
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("got %v, want context.Canceled", err)
		}
	})
}

func TestJoinToken(t *testing.T) {
	dir := t.TempDir()
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := file("token", "K10abc::server:secret\n")
	empty := file("empty", "\n")
	tests := []struct {
		name             string
		token, tokenFile string
		want, wantErr    string
	}{
		{name: "flag", token: "K10abc::server:secret", want: "K10abc::server:secret"},
		{name: "file, trailing newline dropped", tokenFile: good, want: "K10abc::server:secret"},
		{name: "both", token: "x", tokenFile: good, wantErr: "mutually exclusive"},
		{name: "neither", wantErr: "required"},
		{name: "empty file", tokenFile: empty, wantErr: "is empty"},
		{name: "missing file", tokenFile: filepath.Join(dir, "nope"), wantErr: "no such file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := agentOptions{token: tc.token, tokenFile: tc.tokenFile}
			got, err := o.joinToken()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %q, %v; want an error with %q", got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

package apiserver

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/svcnet/svcnet/internal/api"
	"github.com/svcnet/svcnet/internal/apiserver/rest"
	"github.com/svcnet/svcnet/internal/pki"
)

// TestIdleConnectionsClosed: a connection that never sends a request
// (with or without a TLS handshake) and one idle after its request are
// closed by the server, not held open for ever.
func TestIdleConnectionsClosed(t *testing.T) {
	p, err := pki.Load(pki.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Listener: ln, TLS: p.ServerTLS(), Codecs: rest.NewCodecs(api.NewScheme()),
		ReadHeaderTimeout: 200 * time.Millisecond, IdleTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	addr := ln.Addr().String()
	clientTLS := &tls.Config{RootCAs: p.CAPool(), ServerName: "127.0.0.1", NextProtos: []string{"http/1.1"}}

	// closedWithin reads from c until the server closes it, failing after
	// the deadline.
	closedWithin := func(t *testing.T, c net.Conn) {
		t.Helper()
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, err := io.Copy(io.Discard, c)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatal("connection still open after 10s")
		}
	}
	t.Run("no TLS handshake", func(t *testing.T) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		closedWithin(t, c)
	})
	t.Run("handshake, no request", func(t *testing.T) {
		c, err := tls.Dial("tcp", addr, clientTLS)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		closedWithin(t, c)
	})
	t.Run("idle after a request", func(t *testing.T) {
		c, err := tls.Dial("tcp", addr, clientTLS)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		req, _ := http.NewRequest(http.MethodGet, "https://"+addr+"/healthz", nil)
		if err := req.Write(c); err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("healthz: %s", resp.Status)
		}
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.Copy(io.Discard, br); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatal("idle connection still open after 10s")
			}
		}
	})
}

package portforward

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"
)

// echoServer answers every connection with what it reads, then closes.
func echoServer(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

// forwardServer serves Serve, dialling ports on loopback.
func forwardServer(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := Serve(w, r, Config{Pod: "ns/p", StreamCreationTimeout: time.Second,
			Dial: func(ctx context.Context, port uint16) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(int(port))))
			}})
		if errors.Is(err, ErrNotUpgrade) {
			http.Error(w, err.Error(), http.StatusBadRequest)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

type dialerFunc func(t *testing.T, u *url.URL) httpstream.Dialer

func spdyDialer(t *testing.T, u *url.URL) httpstream.Dialer {
	rt, up, err := spdy.RoundTripperFor(&rest.Config{Host: u.Host})
	if err != nil {
		t.Fatal(err)
	}
	return spdy.NewDialer(up, &http.Client{Transport: rt}, http.MethodPost, u)
}

func tunnelDialer(t *testing.T, u *url.URL) httpstream.Dialer {
	d, err := portforward.NewSPDYOverWebsocketDialer(u, &rest.Config{Host: u.Host})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

var dialers = []struct {
	name string
	dial dialerFunc
}{{"spdy", spdyDialer}, {"websocket tunnel", tunnelDialer}}

func TestForwardWithClientGo(t *testing.T) {
	echoPort := echoServer(t)
	srv := forwardServer(t)
	u, _ := url.Parse(srv.URL + "/portForward/ns/p")
	for _, tc := range dialers {
		t.Run(tc.name, func(t *testing.T) {
			stop, ready := make(chan struct{}), make(chan struct{})
			pf, err := portforward.NewOnAddresses(tc.dial(t, u), []string{"127.0.0.1"},
				[]string{"0:" + strconv.Itoa(echoPort)}, stop, ready, io.Discard, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- pf.ForwardPorts() }()
			defer func() {
				close(stop)
				if err := <-done; err != nil {
					t.Errorf("ForwardPorts: %v", err)
				}
			}()
			select {
			case <-ready:
			case err := <-done:
				t.Fatalf("ForwardPorts: %v", err)
			}
			ports, err := pf.GetPorts()
			if err != nil {
				t.Fatal(err)
			}
			// Two connections in turn, each its own stream pair.
			for i := range 2 {
				c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(int(ports[0].Local))))
				if err != nil {
					t.Fatal(err)
				}
				want := fmt.Sprintf("hello %d", i)
				if _, err := io.WriteString(c, want); err != nil {
					t.Fatal(err)
				}
				_ = c.(*net.TCPConn).CloseWrite()
				_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
				got, err := io.ReadAll(c)
				c.Close()
				if err != nil || string(got) != want {
					t.Errorf("got %q, %v, want %q", got, err, want)
				}
			}
		})
	}
}

// rawPair opens an error and a data stream for port and returns what the
// server wrote on the error stream.
func rawPair(t *testing.T, conn httpstream.Connection, port string, withData bool) string {
	t.Helper()
	h := http.Header{}
	h.Set("streamType", "error")
	h.Set("port", port)
	h.Set("requestID", "1")
	errS, err := conn.CreateStream(h)
	if err != nil {
		t.Fatal(err)
	}
	if withData {
		h.Set("streamType", "data")
		if _, err := conn.CreateStream(h); err != nil {
			t.Fatal(err)
		}
	}
	got, err := io.ReadAll(errS)
	if err != nil {
		t.Fatal(err)
	}
	return string(got)
}

func TestForwardErrors(t *testing.T) {
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := strconv.Itoa(closed.Addr().(*net.TCPAddr).Port)
	closed.Close()
	srv := forwardServer(t)
	u, _ := url.Parse(srv.URL + "/portForward/ns/p")
	tests := []struct {
		name     string
		port     string
		withData bool
		want     string
	}{
		{"refused", closedPort, true, "error forwarding port " + closedPort + " to pod ns/p: dial tcp 127.0.0.1:" + closedPort},
		{"invalid port", "http", true, `error forwarding port http to pod ns/p: invalid port "http"`},
		{"no data stream", "80", false, "timed out waiting for the data stream of request 1"},
	}
	for _, d := range dialers {
		for _, tc := range tests {
			t.Run(d.name+"/"+tc.name, func(t *testing.T) {
				conn, proto, err := d.dial(t, u).Dial(Protocol)
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close()
				if proto != Protocol {
					t.Errorf("got protocol %q, want %q", proto, Protocol)
				}
				if got := rawPair(t, conn, tc.port, tc.withData); !strings.HasPrefix(got, tc.want) {
					t.Errorf("got error %q, want prefix %q", got, tc.want)
				}
			})
		}
	}
}

func TestServeNotUpgrade(t *testing.T) {
	srv := forwardServer(t)
	resp, err := http.Post(srv.URL+"/portForward/ns/p", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "port forwarding requires an upgrade") {
		t.Errorf("got %d %q, want 400 naming the upgrade", resp.StatusCode, body)
	}
}

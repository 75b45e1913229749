package portforward

import (
	"context"
	"errors"
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

	pftest "github.com/svcnet/svcnet/internal/agent/portforward/portforwardtest"
)

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

func TestForwardWithClientGo(t *testing.T) {
	echoPort := pftest.EchoServer(t)
	srv := forwardServer(t)
	u, _ := url.Parse(srv.URL + "/portForward/ns/p")
	for _, transport := range pftest.Transports {
		t.Run(transport, func(t *testing.T) {
			pftest.Echo(t, pftest.Dialer(t, transport, u, &rest.Config{Host: u.Host}), echoPort, "hello 0", "hello 1")
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
	for _, transport := range pftest.Transports {
		for _, tc := range tests {
			t.Run(transport+"/"+tc.name, func(t *testing.T) {
				conn, proto, err := pftest.Dialer(t, transport, u, &rest.Config{Host: u.Host}).Dial(Protocol)
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

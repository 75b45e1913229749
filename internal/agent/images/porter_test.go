package images

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// freePort returns a TCP port nothing listens on at the moment.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

func TestPorter(t *testing.T) {
	plain, secure := freePort(t), freePort(t)
	for _, tc := range []struct {
		name string
		args []string
		want map[string]string // URL -> body, for GET (plain) or PATCH (JSON)
	}{
		{"plain", nil, map[string]string{
			"http://127.0.0.1:" + plain + "/any/path": `<a href="/rewriteme">test</a>`,
			"https://127.0.0.1:" + secure + "/":       "tls baz",
		}},
		{"json", []string{"--json-response"}, map[string]string{
			// As json.Marshal writes it (HTML characters escaped).
			"http://127.0.0.1:" + plain + "/some/path/with/PATCH": `{"Method":"PATCH","Body":"\u003ca href=\"/rewriteme\"\u003etest\u003c/a\u003e"}`,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			env := []string{"PATH=/bin", "SERVE_PORT_" + plain + `=<a href="/rewriteme">test</a>`, "SERVE_TLS_PORT_" + secure + "=tls baz"}
			go func() { done <- porter(ctx, append(tc.args, "--cert-file=/nonexistent"), env) }()
			defer func() {
				cancel()
				if err := <-done; err != nil {
					t.Errorf("porter: %v", err)
				}
			}()
			c := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
				TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} // porter's self-signed certificate
			defer c.CloseIdleConnections()
			for u, want := range tc.want {
				method := http.MethodGet
				if tc.name == "json" {
					method = http.MethodPatch
				}
				var got string
				deadline := time.Now().Add(5 * time.Second)
				for {
					req, _ := http.NewRequest(method, u, nil)
					resp, err := c.Do(req)
					if err == nil {
						b, _ := io.ReadAll(resp.Body)
						resp.Body.Close()
						got = strings.TrimSpace(string(b))
						break
					}
					if time.Now().After(deadline) {
						t.Fatalf("%s: %v", u, err)
					}
					time.Sleep(20 * time.Millisecond) // poll until porter listens
				}
				if got != want {
					t.Errorf("%s %s: got %q, want %q", method, u, got, want)
				}
			}
		})
	}
	if err := porter(context.Background(), nil, []string{"HOME=/"}); err == nil {
		t.Errorf("porter without SERVE_ variables: got no error")
	}
}

package kubeletapi

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/svcnet/svcnet/internal/pki"
)

func TestAuthentication(t *testing.T) {
	ca, err := pki.Load(pki.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	other, err := pki.Load(pki.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, r.URL.Path) })
	srv, err := New(Config{Listener: ln, Hosts: []string{"127.0.0.1"}, ClientCAs: ca.CAPool(), Logs: ok, PortForward: ok})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	cert := func(p *pki.PKI, cn string) []tls.Certificate {
		certPEM, keyPEM, err := p.IssueClientCert(cn, nil)
		if err != nil {
			t.Fatal(err)
		}
		c, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			t.Fatal(err)
		}
		return []tls.Certificate{c}
	}
	kubeletClient, err := ca.KubeletClientCert()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		certs    []tls.Certificate
		path     string
		wantCode int
		wantBody string
	}{
		{"kubelet client", []tls.Certificate{kubeletClient}, "/containerLogs/ns/p/c", 200, "/containerLogs/ns/p/c"},
		{"port forward", []tls.Certificate{kubeletClient}, "/portForward/ns/p", 200, "/portForward/ns/p"},
		{"not served", []tls.Certificate{kubeletClient}, "/exec/ns/p/c", 404, "404 page not found\n"},
		{"no certificate", nil, "/containerLogs/ns/p/c", 401, "Unauthorized\n"},
		{"other CA", cert(other, pki.KubeletClientUser), "/containerLogs/ns/p/c", 401, "Unauthorized\n"},
		{"other user", cert(ca, pki.AdminUser), "/containerLogs/ns/p/c", 403,
			"Forbidden (user=admin, verb=get, resource=nodes, subresource(s)=[proxy])\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{
				Certificates: tc.certs, InsecureSkipVerify: true}}} // a self-signed serving certificate
			defer c.CloseIdleConnections()
			resp, err := c.Get("https://" + ln.Addr().String() + tc.path)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.wantCode || string(body) != tc.wantBody {
				t.Errorf("got %d %q, want %d %q", resp.StatusCode, body, tc.wantCode, tc.wantBody)
			}
		})
	}
}

func TestRoutes(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "agent.log"), []byte("started\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	pods := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "podlist") })
	h := Routes(Config{Pods: pods, LogDir: dir})
	tests := []struct {
		path     string
		wantCode int
		want     string // a substring of the body
	}{
		{"/healthz", 200, "ok"},
		{"/pods", 200, "podlist"},
		{"/logs/", 200, `<a href="agent.log">agent.log</a>`},
		{"/logs/agent.log", 200, "started"},
		{"/logs/missing.log", 404, "404 page not found"},
		{"/exec/ns/p/c", 404, "404 page not found"},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tc.path, nil))
			if rec.Code != tc.wantCode || !strings.Contains(rec.Body.String(), tc.want) {
				t.Errorf("got %d %q, want %d with %q", rec.Code, rec.Body.String(), tc.wantCode, tc.want)
			}
		})
	}
	rec := httptest.NewRecorder()
	Routes(Config{}).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/logs/", nil))
	if rec.Code != 404 {
		t.Errorf("/logs/ without LogDir: got %d, want 404", rec.Code)
	}
}

package kubeletapi

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
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

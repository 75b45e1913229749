package certificates

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"net"
	"net/url"
	"testing"

	certificatesv1 "k8s.io/api/certificates/v1"
)

func request(t *testing.T, tmpl x509.CertificateRequest) *x509.CertificateRequest {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &tmpl, key)
	if err != nil {
		t.Fatal(err)
	}
	req, err := ParseRequest(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func TestSignerRules(t *testing.T) {
	node := pkix.Name{CommonName: "system:node:n1", Organization: []string{NodesGroup}}
	client := []certificatesv1.KeyUsage{"digital signature", "client auth"}
	clientRSA := []certificatesv1.KeyUsage{"key encipherment", "digital signature", "client auth"}
	serving := []certificatesv1.KeyUsage{"digital signature", "server auth"}
	uri, _ := url.Parse("spiffe://example.org/n1")
	for _, tc := range []struct {
		name     string
		validate func(*x509.CertificateRequest, []certificatesv1.KeyUsage) error
		tmpl     x509.CertificateRequest
		usages   []certificatesv1.KeyUsage
		want     error  // a sentinel, or nil
		wantText string // the message of a non-sentinel error
	}{
		{name: "kubelet client", validate: ValidateKubeletClient, tmpl: x509.CertificateRequest{Subject: node}, usages: client},
		{name: "kubelet client, RSA usages", validate: ValidateKubeletClient, tmpl: x509.CertificateRequest{Subject: node}, usages: clientRSA},
		{
			name: "kubelet client, extra organization", validate: ValidateKubeletClient, usages: client,
			tmpl: x509.CertificateRequest{Subject: pkix.Name{CommonName: "system:node:n1", Organization: []string{NodesGroup, "system:masters"}}},
			want: ErrOrganizationNotNodes,
		},
		{
			name: "kubelet client, not a node", validate: ValidateKubeletClient, usages: client,
			tmpl: x509.CertificateRequest{Subject: pkix.Name{CommonName: "admin", Organization: []string{NodesGroup}}},
			want: ErrCommonNameNotNode,
		},
		{
			name: "kubelet client, DNS SAN", validate: ValidateKubeletClient, usages: client,
			tmpl: x509.CertificateRequest{Subject: node, DNSNames: []string{"n1"}}, want: ErrDNSSAN,
		},
		{
			name: "kubelet client, IP SAN", validate: ValidateKubeletClient, usages: client,
			tmpl: x509.CertificateRequest{Subject: node, IPAddresses: []net.IP{net.ParseIP("192.0.2.1")}}, want: ErrIPSAN,
		},
		{
			name: "kubelet client, server auth", validate: ValidateKubeletClient, usages: serving,
			tmpl:     x509.CertificateRequest{Subject: node},
			wantText: "usages did not match [client auth digital signature key encipherment]",
		},
		{
			name: "kubelet serving", validate: ValidateKubeletServing, usages: serving,
			tmpl: x509.CertificateRequest{Subject: node, DNSNames: []string{"n1"}, IPAddresses: []net.IP{net.ParseIP("192.0.2.1")}},
		},
		{
			name: "kubelet serving, no SAN", validate: ValidateKubeletServing, usages: serving,
			tmpl: x509.CertificateRequest{Subject: node}, want: ErrNoDNSOrIPSAN,
		},
		{
			name: "kubelet serving, email SAN", validate: ValidateKubeletServing, usages: serving,
			tmpl: x509.CertificateRequest{Subject: node, DNSNames: []string{"n1"}, EmailAddresses: []string{"a@example.org"}}, want: ErrEmailSAN,
		},
		{
			name: "kubelet serving, URI SAN", validate: ValidateKubeletServing, usages: serving,
			tmpl: x509.CertificateRequest{Subject: node, DNSNames: []string{"n1"}, URIs: []*url.URL{uri}}, want: ErrURISAN,
		},
		{
			name: "kubelet serving, client usages", validate: ValidateKubeletServing, usages: client,
			tmpl:     x509.CertificateRequest{Subject: node, DNSNames: []string{"n1"}},
			wantText: "usages did not match [digital signature key encipherment server auth]",
		},
		{
			name: "kubelet serving, no organization", validate: ValidateKubeletServing, usages: serving,
			tmpl: x509.CertificateRequest{Subject: pkix.Name{CommonName: "system:node:n1"}, DNSNames: []string{"n1"}}, want: ErrOrganizationNotNodes,
		},
		{name: "API client", validate: ValidateAPIServerClient, tmpl: x509.CertificateRequest{Subject: pkix.Name{CommonName: "alice"}}, usages: clientRSA},
		{
			name: "API client, server auth", validate: ValidateAPIServerClient, usages: []certificatesv1.KeyUsage{"client auth", "server auth"},
			tmpl: x509.CertificateRequest{Subject: pkix.Name{CommonName: "alice"}}, wantText: "invalid usage for client certificate: server auth",
		},
		{
			name: "API client, no client auth", validate: ValidateAPIServerClient, usages: []certificatesv1.KeyUsage{"digital signature"},
			tmpl: x509.CertificateRequest{Subject: pkix.Name{CommonName: "alice"}}, wantText: "missing required usage for client certificate: client auth",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.validate(request(t, tc.tmpl), tc.usages)
			switch {
			case tc.wantText != "":
				if err == nil || err.Error() != tc.wantText {
					t.Errorf("got %v, want %q", err, tc.wantText)
				}
			case !errors.Is(err, tc.want) || (tc.want == nil && err != nil):
				t.Errorf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func TestCheckCertificates(t *testing.T) {
	for _, tc := range []struct {
		name string
		data string
		ok   bool
	}{
		{name: "empty", data: "", ok: true},
		{name: "not PEM", data: "hello"},
		{name: "bad DER", data: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1, 2, 3}}))},
		{name: "headers", data: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Headers: map[string]string{"a": "b"}, Bytes: []byte{1}}))},
		{name: "key", data: string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1}}))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := CheckCertificates([]byte(tc.data)); (err == nil) != tc.ok {
				t.Errorf("got %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestNodeName(t *testing.T) {
	for in, want := range map[string]string{"system:node:n1": "n1", "system:node:": "", "admin": ""} {
		if got, ok := NodeName(in); got != want || ok != (want != "") {
			t.Errorf("NodeName(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
}

package pki

import (
	"bytes"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/client-go/tools/clientcmd"
)

func mustLoad(t *testing.T, cfg Config) *PKI {
	t.Helper()
	p, err := Load(cfg)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return p
}

func servingCert(t *testing.T, p *PKI) *x509.Certificate {
	t.Helper()
	c, err := x509.ParseCertificate(p.ServerTLS().Certificates[0].Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestLoadReuses(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{Dir: dir, Hosts: []string{"node1", "10.96.0.1"}, ClusterDomain: "cluster.local"}
	p1 := mustLoad(t, cfg)
	p2 := mustLoad(t, cfg)
	if !bytes.Equal(p1.CAPEM(), p2.CAPEM()) {
		t.Errorf("CA was regenerated on second Load")
	}
	if got, want := servingCert(t, p2).SerialNumber, servingCert(t, p1).SerialNumber; got.Cmp(want) != 0 {
		t.Errorf("serving cert serial = %v, want reused %v", got, want)
	}
	c1, _ := p1.AdminCert()
	c2, _ := p2.AdminCert()
	if !bytes.Equal(c1, c2) {
		t.Errorf("admin cert was regenerated on second Load")
	}
	if p1.Token() != p2.Token() {
		t.Errorf("token = %q, want reused %q", p2.Token(), p1.Token())
	}
	for _, name := range []string{caKeyFile, serverKeyFile, adminKeyFile, tokenFile} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != 0o600 {
			t.Errorf("%s mode = %v, want 0600", name, got)
		}
	}
}

func TestServingSANs(t *testing.T) {
	dir := t.TempDir()
	p1 := mustLoad(t, Config{Dir: dir, Hosts: []string{"node1", "10.96.0.1"}, ClusterDomain: "cluster.local"})
	c := servingCert(t, p1)
	wantDNS := []string{"kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local", "localhost", "node1"}
	if diff := cmp.Diff(wantDNS, c.DNSNames); diff != "" {
		t.Errorf("DNS SANs (-want +got):\n%s", diff)
	}
	var ips []string
	for _, ip := range c.IPAddresses {
		ips = append(ips, ip.String())
	}
	if diff := cmp.Diff([]string{"::1", "10.96.0.1", "127.0.0.1"}, ips); diff != "" {
		t.Errorf("IP SANs (-want +got):\n%s", diff)
	}

	// Changed hosts reissue the serving cert under the same CA.
	p2 := mustLoad(t, Config{Dir: dir, Hosts: []string{"node2", "10.96.0.1"}, ClusterDomain: "cluster.local"})
	c2 := servingCert(t, p2)
	if c2.SerialNumber.Cmp(c.SerialNumber) == 0 {
		t.Fatalf("serving cert not reissued after SAN change")
	}
	if err := c2.VerifyHostname("node2"); err != nil {
		t.Errorf("reissued cert: %v", err)
	}
	if !bytes.Equal(p1.CAPEM(), p2.CAPEM()) {
		t.Errorf("CA changed on SAN change")
	}
}

func TestRenewsNearExpiry(t *testing.T) {
	dir := t.TempDir()
	p1 := mustLoad(t, Config{Dir: dir})
	later := time.Now().Add(leafValidity - renewBefore/2)
	p2 := mustLoad(t, Config{Dir: dir, Now: func() time.Time { return later }})
	if servingCert(t, p2).SerialNumber.Cmp(servingCert(t, p1).SerialNumber) == 0 {
		t.Errorf("serving cert not renewed near expiry")
	}
}

func TestTLSHandshakeWithAdminCert(t *testing.T) {
	p := mustLoad(t, Config{Dir: t.TempDir()})
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 {
			http.Error(w, "no verified client cert", http.StatusUnauthorized)
			return
		}
		leaf := r.TLS.VerifiedChains[0][0]
		_, _ = io.WriteString(w, leaf.Subject.CommonName+"/"+strings.Join(leaf.Subject.Organization, ","))
	}))
	srv.TLS = p.ServerTLS()
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	defer srv.Close()

	certPEM, keyPEM := p.AdminCert()
	clientCert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{
		RootCAs:      p.CAPool(),
		Certificates: []tls.Certificate{clientCert},
		ServerName:   "localhost",
	}}}
	resp, err := client.Get("https://127.0.0.1:" + port + "/")
	if err != nil {
		t.Fatalf("GET: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if got, want := string(body), "admin/system:masters"; got != want {
		t.Errorf("user = %q, want %q", got, want)
	}

	// A client certificate from another CA fails the handshake.
	other := mustLoad(t, Config{Dir: t.TempDir()})
	oc, ok := other.AdminCert()
	bad, err := tls.X509KeyPair(oc, ok)
	if err != nil {
		t.Fatal(err)
	}
	client = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{
		RootCAs: p.CAPool(), Certificates: []tls.Certificate{bad}, ServerName: "localhost",
	}}}
	if resp, err := client.Get("https://127.0.0.1:" + port + "/"); err == nil {
		resp.Body.Close()
		t.Errorf("GET with foreign client cert succeeded, want handshake error")
	}
}

func TestKubeconfig(t *testing.T) {
	p := mustLoad(t, Config{Dir: t.TempDir()})
	path := filepath.Join(t.TempDir(), "sub", "admin.kubeconfig")
	if err := p.WriteKubeconfig(path, "https://127.0.0.1:6443"); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("kubeconfig mode = %v, want 0600", got)
	}
	rc, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := rc.Host, "https://127.0.0.1:6443"; got != want {
		t.Errorf("host = %q, want %q", got, want)
	}
	if !bytes.Equal(rc.CAData, p.CAPEM()) {
		t.Errorf("CA data differs from CAPEM")
	}
	certPEM, _ := p.AdminCert()
	if !bytes.Equal(rc.CertData, certPEM) {
		t.Errorf("client cert differs from admin cert")
	}
	raw, err := clientcmd.LoadFromFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := raw.CurrentContext, "svcnet"; got != want {
		t.Errorf("current context = %q, want %q", got, want)
	}
}

func TestTokenRoundTrip(t *testing.T) {
	p := mustLoad(t, Config{Dir: t.TempDir()})
	tok := p.Token()
	if !strings.HasPrefix(tok, "K10") {
		t.Fatalf("token %q lacks K10 prefix", tok)
	}
	hash, secret, err := ParseToken(tok)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := secret, p.TokenSecret(); got != want {
		t.Errorf("secret = %q, want %q", got, want)
	}
	if err := VerifyCA(p.CAPEM(), hash); err != nil {
		t.Errorf("VerifyCA with own CA: %v", err)
	}
	other := mustLoad(t, Config{Dir: t.TempDir()})
	if err := VerifyCA(other.CAPEM(), hash); err == nil {
		t.Errorf("VerifyCA with foreign CA succeeded, want error")
	}
}

func TestParseToken(t *testing.T) {
	hash := strings.Repeat("ab", 32)
	tests := []struct {
		name       string
		token      string
		wantHash   string
		wantSecret string
		wantErr    bool
	}{
		{name: "full", token: "K10" + hash + "::server:s3cret", wantHash: hash, wantSecret: "s3cret"},
		{name: "no user", token: "K10" + hash + "::s3cret", wantHash: hash, wantSecret: "s3cret"},
		{name: "bare secret", token: "s3cret", wantSecret: "s3cret"},
		{name: "trailing newline", token: "K10" + hash + "::server:x\n", wantHash: hash, wantSecret: "x"},
		{name: "empty", token: "", wantErr: true},
		{name: "short hash", token: "K10abcd::server:x", wantErr: true},
		{name: "no separator", token: "K10" + hash, wantErr: true},
		{name: "wrong user", token: "K10" + hash + "::node:x", wantErr: true},
		{name: "empty secret", token: "K10" + hash + "::server:", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, s, err := ParseToken(tc.token)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if h != tc.wantHash || s != tc.wantSecret {
				t.Errorf("got (%q, %q), want (%q, %q)", h, s, tc.wantHash, tc.wantSecret)
			}
		})
	}
}

func TestIssueClientCert(t *testing.T) {
	p := mustLoad(t, Config{Dir: t.TempDir()})
	certPEM, _, err := p.IssueClientCert("system:node:n1", []string{"system:nodes"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := parseCert(certPEM)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Verify(x509.VerifyOptions{Roots: p.CAPool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("verify: %v", err)
	}
	if got, want := c.Subject.CommonName, "system:node:n1"; got != want {
		t.Errorf("CN = %q, want %q", got, want)
	}
}

func TestParseJoinToken(t *testing.T) {
	hash := strings.Repeat("ab", 32)
	const boot = "abcdef.0123456789abcdef"
	tests := []struct {
		name    string
		token   string
		want    JoinToken
		wantErr bool
	}{
		{name: "server secret", token: "K10" + hash + "::server:s3cret", want: JoinToken{CAHash: hash, Secret: "s3cret"}},
		{name: "bootstrap token", token: "K10" + hash + "::" + boot, want: JoinToken{CAHash: hash, Secret: boot, BootstrapTokenID: "abcdef"}},
		{name: "upper-case hash", token: "K10" + strings.ToUpper(hash) + "::" + boot, want: JoinToken{CAHash: hash, Secret: boot, BootstrapTokenID: "abcdef"}},
		{name: "bare bootstrap token", token: boot, want: JoinToken{Secret: boot, BootstrapTokenID: "abcdef"}},
		{name: "server secret shaped like a bootstrap token", token: "K10" + hash + "::server:" + boot, want: JoinToken{CAHash: hash, Secret: boot}},
		{name: "short form, not a bootstrap token", token: "K10" + hash + "::ABCDEF.0123456789abcdef", want: JoinToken{CAHash: hash, Secret: "ABCDEF.0123456789abcdef"}},
		{name: "empty bootstrap part", token: "K10" + hash + "::", wantErr: true},
		{name: "bad hash", token: "K10" + strings.Repeat("zz", 32) + "::" + boot, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseJoinToken(tc.token)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestJoinTokenRoundTrip(t *testing.T) {
	hash := strings.Repeat("0f", 32)
	for _, tok := range []string{
		FormatToken(hash, "s3cret"),
		FormatBootstrapToken(hash, "abcdef.0123456789abcdef"),
		"bare",
	} {
		jt, err := ParseJoinToken(tok)
		if err != nil {
			t.Fatal(err)
		}
		if got := jt.String(); got != tok {
			t.Errorf("ParseJoinToken(%q).String() = %q", tok, got)
		}
	}
}

func TestCA(t *testing.T) {
	p := mustLoad(t, Config{Dir: t.TempDir()})
	cert, key := p.CA()
	if !cert.IsCA || !cert.PublicKey.(interface{ Equal(crypto.PublicKey) bool }).Equal(key.Public()) {
		t.Errorf("CA() = %v, %T: want the CA certificate and its key", cert.Subject, key)
	}
}

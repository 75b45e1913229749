package etcd

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// testCA issues certificates for the TLS tests.
type testCA struct {
	dir  string
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	n    int64
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	ca := &testCA{dir: t.TempDir()}
	ca.cert, ca.key = ca.issue(t, "ca", &x509.Certificate{Subject: pkix.Name{CommonName: "test-ca"}, IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign})
	return ca
}

// issue signs tmpl (self-signed for the CA itself) and writes name.crt and
// name.key into the CA's directory.
func (ca *testCA) issue(t *testing.T, name string, tmpl *x509.Certificate) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ca.n++
	tmpl.SerialNumber = big.NewInt(ca.n)
	tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
	parent, signer := tmpl, key
	if ca.cert != nil {
		parent, signer = ca.cert, ca.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, signer)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	write := func(file, typ string, der []byte) {
		if err := os.WriteFile(filepath.Join(ca.dir, file), pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(name+".crt", "CERTIFICATE", der)
	write(name+".key", "PRIVATE KEY", keyDER)
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

func (ca *testCA) files(name string) TLSFiles {
	return TLSFiles{CAFile: filepath.Join(ca.dir, "ca.crt"), CertFile: filepath.Join(ca.dir, name+".crt"),
		KeyFile: filepath.Join(ca.dir, name+".key")}
}

// TestTLSMember runs a member whose client URL is https with client
// certificate authentication: a client with a certificate of the CA gets
// in; one without a certificate, with one of another CA, or over plain
// http does not.
func TestTLSMember(t *testing.T) {
	ca := newTestCA(t)
	ca.issue(t, "member", &x509.Certificate{Subject: pkix.Name{CommonName: "member"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}})
	ca.issue(t, "apiserver", &x509.Certificate{Subject: pkix.Name{CommonName: "apiserver"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	other := newTestCA(t)
	other.issue(t, "intruder", &x509.Certificate{Subject: pkix.Name{CommonName: "intruder"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})

	ports := freePorts(t, 1)
	serving := ca.files("member")
	serving.ClientCertAuth = true
	e, err := New(Config{DataDir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		ListenClientURLs: []string{fmt.Sprintf("https://127.0.0.1:%d", ports[0])}, ClientTLS: serving})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	errc := make(chan error, 1)
	runCtx, stop := context.WithCancel(ctx)
	go func() { errc <- e.Run(runCtx) }()
	defer func() {
		stop()
		<-errc
	}()
	if _, err := e.Client(ctx); err != nil {
		t.Fatalf("member's own client: %v", err)
	}
	endpoint := fmt.Sprintf("https://127.0.0.1:%d", ports[0])
	noCert := ca.files("")
	noCert.CertFile, noCert.KeyFile = "", ""
	intruder := other.files("intruder")
	intruder.CAFile = ca.files("").CAFile
	tests := []struct {
		name     string
		endpoint string
		files    TLSFiles
		wantOK   bool
	}{
		{"certificate of the cluster CA", endpoint, ca.files("apiserver"), true},
		{"no client certificate", endpoint, noCert, false},
		{"certificate of another CA", endpoint, intruder, false},
		{"plain http", fmt.Sprintf("http://127.0.0.1:%d", ports[0]), TLSFiles{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tlsCfg, err := tc.files.ClientTLS()
			if err != nil {
				t.Fatal(err)
			}
			dctx, dcancel := context.WithTimeout(ctx, 3*time.Second)
			defer dcancel()
			c, err := Dial(dctx, []string{tc.endpoint}, tlsCfg)
			if err == nil {
				c.Close()
			}
			if (err == nil) != tc.wantOK {
				t.Errorf("got error %v, want success %v", err, tc.wantOK)
			}
		})
	}
}

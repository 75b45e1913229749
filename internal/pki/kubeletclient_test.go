package pki

import (
	"crypto/x509"
	"testing"
)

func TestKubeletClientCert(t *testing.T) {
	p := mustLoad(t, Config{Dir: t.TempDir()})
	c, err := p.KubeletClientCert()
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	if got := leaf.Subject.CommonName; got != KubeletClientUser {
		t.Errorf("got CN %q, want %q", got, KubeletClientUser)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: p.CAPool(),
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("got %v, want a client certificate of the CA", err)
	}
}

package pki

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"testing"
)

func TestSeedSharesCAAndToken(t *testing.T) {
	a := mustLoad(t, Config{Dir: t.TempDir(), Hosts: []string{"10.0.0.1"}})
	shared, err := a.Shared()
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name string
		// existing loads a PKI of its own in the directory first, as a
		// server that once ran alone has.
		existing bool
	}{
		{name: "empty data dir"},
		{name: "data dir with another CA", existing: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.existing {
				mustLoad(t, Config{Dir: dir})
			}
			changed, err := Seed(dir, shared)
			if err != nil {
				t.Fatal(err)
			}
			if !changed {
				t.Error("Seed reported no change in a directory without the shared CA")
			}
			b := mustLoad(t, Config{Dir: dir, Hosts: []string{"10.0.0.2"}})
			if !bytes.Equal(b.CAPEM(), a.CAPEM()) {
				t.Error("got a different CA, want the shared one")
			}
			if b.Token() != a.Token() {
				t.Errorf("token: got %q, want %q", b.Token(), a.Token())
			}
			// b's leaf certificates chain to the shared CA: a client of one
			// server trusts the other.
			certPEM, _ := b.AdminCert()
			blk, _ := pem.Decode(certPEM)
			admin, err := x509.ParseCertificate(blk.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			for name, c := range map[string]*x509.Certificate{"admin": admin, "serving": servingCert(t, b)} {
				usage := x509.ExtKeyUsageClientAuth
				if name == "serving" {
					usage = x509.ExtKeyUsageServerAuth
				}
				if _, err := c.Verify(x509.VerifyOptions{Roots: a.CAPool(), KeyUsages: []x509.ExtKeyUsage{usage}}); err != nil {
					t.Errorf("%s certificate does not verify against the shared CA: %v", name, err)
				}
			}
			if changed, err := Seed(dir, shared); err != nil || changed {
				t.Errorf("second Seed: got changed=%v err=%v, want no change", changed, err)
			}
		})
	}
}

func TestSeedRejectsBadMaterial(t *testing.T) {
	a := mustLoad(t, Config{Dir: t.TempDir()})
	good, err := a.Shared()
	if err != nil {
		t.Fatal(err)
	}
	other, err := mustLoad(t, Config{Dir: t.TempDir()}).Shared()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		mutate func(s *Shared)
	}{
		{name: "key of another CA", mutate: func(s *Shared) { s.CAKey = other.CAKey }},
		{name: "no certificate", mutate: func(s *Shared) { s.CACert = nil }},
		{name: "empty secret", mutate: func(s *Shared) { s.TokenSecret = "" }},
		{name: "secret with colon", mutate: func(s *Shared) { s.TokenSecret = "a:b" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := good
			tc.mutate(&s)
			if _, err := Seed(t.TempDir(), s); err == nil {
				t.Error("got no error, want the material rejected")
			}
		})
	}
}

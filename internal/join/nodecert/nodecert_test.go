package nodecert

import (
	"os"
	"path/filepath"
	"testing"

	"k8s.io/client-go/rest"

	"github.com/svcnet/svcnet/internal/pki"
)

// TestStoredCertificateOfAnotherCA: a pair the cluster's CA signed is
// kept; one of another CA (the cluster was set up anew) is dropped, so
// the node bootstraps again instead of failing with it for ever.
func TestStoredCertificateOfAnotherCA(t *testing.T) {
	cluster, err := pki.Load(pki.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	other, err := pki.Load(pki.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		issuer *pki.PKI
		kept   bool
	}{
		{"the cluster's", cluster, true},
		{"another cluster's", other, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			certPEM, keyPEM, err := tc.issuer.IssueClientCert("system:node:n1", []string{"system:nodes"})
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, clientPair+"-current.pem")
			if err := os.WriteFile(path, append(certPEM, keyPEM...), 0o600); err != nil {
				t.Fatal(err)
			}
			c, err := New(Config{Bootstrap: &rest.Config{Host: "https://127.0.0.1:1",
				TLSClientConfig: rest.TLSClientConfig{CAData: cluster.CAPEM()}}, NodeName: "n1", Dir: dir})
			if err != nil {
				t.Fatal(err)
			}
			_, statErr := os.Stat(path)
			if kept := statErr == nil; kept != tc.kept {
				t.Fatalf("pair kept: %v, want %v", kept, tc.kept)
			}
			if got := c.client.Current() != nil; got != tc.kept {
				t.Errorf("current certificate present: %v, want %v", got, tc.kept)
			}
		})
	}
}

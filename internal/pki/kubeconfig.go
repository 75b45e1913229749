package pki

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// KubeconfigContext names the cluster, user and context of the admin
// kubeconfig.
const KubeconfigContext = "svcnet"

// Kubeconfig returns an admin kubeconfig for serverURL that embeds the CA
// and the admin client certificate and key.
func (p *PKI) Kubeconfig(serverURL string) ([]byte, error) {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[KubeconfigContext] = &clientcmdapi.Cluster{
		Server:                   serverURL,
		CertificateAuthorityData: p.CAPEM(),
	}
	certPEM, keyPEM := p.AdminCert()
	cfg.AuthInfos[KubeconfigContext] = &clientcmdapi.AuthInfo{
		ClientCertificateData: certPEM,
		ClientKeyData:         keyPEM,
	}
	cfg.Contexts[KubeconfigContext] = &clientcmdapi.Context{
		Cluster:  KubeconfigContext,
		AuthInfo: KubeconfigContext,
	}
	cfg.CurrentContext = KubeconfigContext
	data, err := clientcmd.Write(*cfg)
	if err != nil {
		return nil, fmt.Errorf("encode kubeconfig: %w", err)
	}
	return data, nil
}

// WriteKubeconfig atomically writes the admin kubeconfig for serverURL to
// path with mode 0600. A file that already holds it is left alone, so a
// restart on a full disk does not fail here.
func (p *PKI) WriteKubeconfig(path, serverURL string) error {
	data, err := p.Kubeconfig(serverURL)
	if err != nil {
		return err
	}
	if cur, err := os.ReadFile(path); err == nil && bytes.Equal(cur, data) {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("create kubeconfig directory: %w", err)
	}
	return writeFileAtomic(path, data, 0o600)
}

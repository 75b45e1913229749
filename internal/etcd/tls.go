package etcd

import (
	"crypto/tls"
	"errors"
	"fmt"

	"go.etcd.io/etcd/client/pkg/v3/transport"
)

// TLSFiles names PEM files for one side of an etcd connection: kube-apiserver's
// --etcd-cafile/--etcd-certfile/--etcd-keyfile for a client, etcd's
// --trusted-ca-file/--cert-file/--key-file (and the --peer-* ones) for a
// member.
type TLSFiles struct {
	// CAFile verifies the other side: the member for a client; for a
	// member, the clients (or peers) when ClientCertAuth is set.
	CAFile string
	// CertFile and KeyFile are this side's certificate and key.
	CertFile, KeyFile string
	// ClientCertAuth (members only) requires clients, or peers, to
	// present a certificate signed by CAFile.
	ClientCertAuth bool
}

// Empty reports whether no file is named.
func (f TLSFiles) Empty() bool { return f.CAFile == "" && f.CertFile == "" && f.KeyFile == "" }

func (f TLSFiles) check() error {
	if (f.CertFile == "") != (f.KeyFile == "") {
		return errors.New("a certificate file needs its key file and the other way round")
	}
	if f.ClientCertAuth && f.CAFile == "" {
		return errors.New("client certificate authentication needs a trusted CA file")
	}
	return nil
}

// tlsInfo converts f to etcd's form.
func (f TLSFiles) tlsInfo() transport.TLSInfo {
	return transport.TLSInfo{CertFile: f.CertFile, KeyFile: f.KeyFile, TrustedCAFile: f.CAFile, ClientCertAuth: f.ClientCertAuth}
}

// ClientTLS returns the TLS configuration of a client that verifies the
// members against CAFile and presents CertFile; nil when f is empty.
func (f TLSFiles) ClientTLS() (*tls.Config, error) {
	if f.Empty() {
		return nil, nil
	}
	if err := f.check(); err != nil {
		return nil, err
	}
	cfg, err := f.tlsInfo().ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("etcd client TLS: %w", err)
	}
	return cfg, nil
}

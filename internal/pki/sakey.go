package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// serviceAccountKeyFile holds the key that signs ServiceAccount tokens
// (kube-apiserver's --service-account-signing-key-file). It is a key of
// its own, not the CA's, so tokens and certificates can be rotated apart.
const serviceAccountKeyFile = "sa.key"

// loadServiceAccountKey reads the token signing key, creating an ECDSA
// P-256 key when there is none.
func (p *PKI) loadServiceAccountKey() error {
	data, err := os.ReadFile(p.path(serviceAccountKeyFile))
	switch {
	case err == nil:
		key, perr := parseECKey(data)
		if perr != nil {
			return fmt.Errorf("service account key %s: %w", p.path(serviceAccountKeyFile), perr)
		}
		p.saKey = key
		return nil
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("read service account key: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("generate service account key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("encode service account key: %w", err)
	}
	if err := writeFileAtomic(p.path(serviceAccountKeyFile), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return err
	}
	p.saKey = key
	return nil
}

// ServiceAccountKey returns the key that signs ServiceAccount tokens.
func (p *PKI) ServiceAccountKey() *ecdsa.PrivateKey { return p.saKey }

// parseECKey decodes a PEM ECDSA private key (PKCS#8 or SEC 1).
func parseECKey(data []byte) (*ecdsa.PrivateKey, error) {
	b, _ := pem.Decode(data)
	if b == nil {
		return nil, errors.New("no PEM key")
	}
	var key any
	var err error
	switch b.Type {
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(b.Bytes)
	default:
		key, err = x509.ParsePKCS8PrivateKey(b.Bytes)
	}
	if err != nil {
		return nil, fmt.Errorf("parse key: %w", err)
	}
	ec, ok := key.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("key of type %T is not ECDSA", key)
	}
	return ec, nil
}

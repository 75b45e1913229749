package pki

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// Shared is the key material every server of one cluster must hold: the CA
// (so each server's serving and admin certificates, and the node agents'
// trust, chain to one root), the join token's secret (so agents joined
// through one server are accepted by all) and the ServiceAccount token
// signing key (so a token any server issued is valid on every server). Leaf certificates are not
// shared: each server issues its own from the CA.
type Shared struct {
	CACert      []byte `json:"caCert"`
	CAKey       []byte `json:"caKey"`
	TokenSecret string `json:"tokenSecret"`
	// ServiceAccountKey is the PEM token signing key; empty in material
	// stored by servers older than ServiceAccount tokens.
	ServiceAccountKey []byte `json:"serviceAccountKey,omitempty"`
}

// Shared returns p's shared material.
func (p *PKI) Shared() (Shared, error) {
	keyPEM, err := os.ReadFile(p.path(caKeyFile))
	if err != nil {
		return Shared{}, fmt.Errorf("read CA key: %w", err)
	}
	saKey, err := os.ReadFile(p.path(serviceAccountKeyFile))
	if err != nil {
		return Shared{}, fmt.Errorf("read service account key: %w", err)
	}
	return Shared{CACert: p.CAPEM(), CAKey: keyPEM, TokenSecret: p.TokenSecret(), ServiceAccountKey: saKey}, nil
}

// Seed writes s into dir before Load: the CA, replacing a different one,
// the token secret and, when s has one, the token signing key. Load then reissues the leaf certificates the old
// CA signed. It reports whether anything in dir changed.
func Seed(dir string, s Shared) (changed bool, err error) {
	cert, _, err := parsePair(s.CACert, s.CAKey)
	if err != nil {
		return false, fmt.Errorf("shared CA: %w", err)
	}
	if !cert.IsCA {
		return false, errors.New("shared CA: not a CA certificate")
	}
	if s.TokenSecret == "" || strings.ContainsAny(s.TokenSecret, ":\n") {
		return false, errors.New("shared token secret: empty or malformed")
	}
	if len(s.ServiceAccountKey) > 0 {
		if _, err := parseECKey(s.ServiceAccountKey); err != nil {
			return false, fmt.Errorf("shared service account key: %w", err)
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return false, fmt.Errorf("create pki directory: %w", err)
	}
	p := &PKI{dir: dir}
	type seedFile struct {
		name string
		data []byte
		perm os.FileMode
	}
	files := []seedFile{
		{caKeyFile, s.CAKey, 0o600},
		{caCertFile, s.CACert, 0o644},
		{tokenFile, []byte(FormatToken(CAHash(s.CACert), s.TokenSecret) + "\n"), 0o600},
	}
	if len(s.ServiceAccountKey) > 0 {
		files = append(files, seedFile{serviceAccountKeyFile, s.ServiceAccountKey, 0o600})
	}
	for _, f := range files {
		cur, err := os.ReadFile(p.path(f.name))
		if err == nil && bytes.Equal(cur, f.data) {
			continue
		}
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return changed, fmt.Errorf("read %s: %w", f.name, err)
		}
		if err := writeFileAtomic(p.path(f.name), f.data, f.perm); err != nil {
			return changed, err
		}
		changed = true
	}
	return changed, nil
}

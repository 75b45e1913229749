package pki

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// Join tokens follow k3s' "secure" format:
//
//	K10<sha256 hex of the CA PEM>::server:<secret>
//
// The hash lets an agent check the CA it downloads from /cacerts before it
// trusts the server with the secret. A bare secret (no K10 prefix) is
// accepted too, without the CA check.
const (
	tokenPrefix   = "K10"
	tokenUser     = "server"
	secretBytes   = 24 // 192 bits, hex-encoded to 48 characters
	caHashHexSize = sha256.Size * 2
)

func (p *PKI) loadToken() error {
	data, err := os.ReadFile(p.path(tokenFile))
	if err == nil {
		hash, secret, perr := ParseToken(strings.TrimSpace(string(data)))
		if perr == nil && secret != "" {
			if hash == CAHash(p.caPEM) {
				p.token = FormatToken(hash, secret)
				return nil
			}
			// The CA changed underneath the token: keep the secret,
			// refresh the hash.
			return p.writeToken(secret)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("read token: %w", err)
	}
	b := make([]byte, secretBytes)
	if _, err := rand.Read(b); err != nil {
		return fmt.Errorf("generate token: %w", err)
	}
	return p.writeToken(hex.EncodeToString(b))
}

func (p *PKI) writeToken(secret string) error {
	tok := FormatToken(CAHash(p.caPEM), secret)
	if err := writeFileAtomic(p.path(tokenFile), []byte(tok+"\n"), 0o600); err != nil {
		return err
	}
	p.token = tok
	return nil
}

// Token returns the full join token (K10<ca hash>::server:<secret>).
func (p *PKI) Token() string { return p.token }

// TokenSecret returns the secret part of the join token: the bearer token
// the API server accepts from joining agents.
func (p *PKI) TokenSecret() string {
	_, secret, _ := ParseToken(p.token)
	return secret
}

// CAHash returns the hex SHA-256 of caPEM, as carried in join tokens.
func CAHash(caPEM []byte) string {
	sum := sha256.Sum256(caPEM)
	return hex.EncodeToString(sum[:])
}

// FormatToken builds a join token from a CA hash and a secret.
func FormatToken(caHash, secret string) string {
	return tokenPrefix + caHash + "::" + tokenUser + ":" + secret
}

// ParseToken splits a join token into the CA hash and the secret. A token
// without the K10 prefix is taken as a bare secret with an empty hash.
func ParseToken(token string) (caHash, secret string, err error) {
	token = strings.TrimSpace(token)
	if token == "" {
		return "", "", errors.New("empty token")
	}
	if !strings.HasPrefix(token, tokenPrefix) {
		return "", token, nil
	}
	hash, creds, ok := strings.Cut(strings.TrimPrefix(token, tokenPrefix), "::")
	if !ok {
		return "", "", errors.New("malformed token: missing \"::\"")
	}
	if len(hash) != caHashHexSize {
		return "", "", fmt.Errorf("malformed token: CA hash has %d characters, want %d", len(hash), caHashHexSize)
	}
	if _, err := hex.DecodeString(hash); err != nil {
		return "", "", fmt.Errorf("malformed token: CA hash: %w", err)
	}
	user, secret, ok := strings.Cut(creds, ":")
	if !ok {
		// k3s also accepts K10<hash>::<secret>.
		user, secret = tokenUser, creds
	}
	if user != tokenUser {
		return "", "", fmt.Errorf("malformed token: unknown user %q", user)
	}
	if secret == "" {
		return "", "", errors.New("malformed token: empty secret")
	}
	return strings.ToLower(hash), secret, nil
}

// VerifyCA checks that caPEM (as downloaded from the server's /cacerts)
// hashes to caHash from the join token. An empty caHash (a bare-secret
// token) is an error: the caller must decide whether to trust blindly.
func VerifyCA(caPEM []byte, caHash string) error {
	if caHash == "" {
		return errors.New("token carries no CA hash")
	}
	got := CAHash(caPEM)
	if subtle.ConstantTimeCompare([]byte(got), []byte(strings.ToLower(caHash))) != 1 {
		return fmt.Errorf("CA certificate hash %s does not match token hash %s", got, caHash)
	}
	if _, err := parseCert(caPEM); err != nil {
		return fmt.Errorf("CA certificate: %w", err)
	}
	return nil
}

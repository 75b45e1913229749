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

	bootstraputil "k8s.io/cluster-bootstrap/token/util"
)

// Join tokens follow k3s' "secure" format, with the server's secret
//
//	K10<sha256 hex of the CA PEM>::server:<secret>
//
// or a bootstrap token (a kube-system/bootstrap-token-<id> Secret)
//
//	K10<sha256 hex of the CA PEM>::<id>.<secret>
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

// FormatBootstrapToken builds a join token from a CA hash and a bootstrap
// token <id>.<secret>.
func FormatBootstrapToken(caHash, bootstrapToken string) string {
	return tokenPrefix + caHash + "::" + bootstrapToken
}

// JoinToken is a parsed join token.
type JoinToken struct {
	// CAHash is the lower-case hex SHA-256 of the CA PEM, empty for a bare
	// secret.
	CAHash string
	// Secret is the bearer token the agent presents: the server's secret,
	// or <id>.<secret> of a bootstrap token.
	Secret string
	// BootstrapTokenID is the id of a bootstrap token, empty for the
	// server's secret.
	BootstrapTokenID string
}

// String formats t as the token it was parsed from (bare secrets gain
// nothing; the server's secret is written with its "server:" user).
func (t JoinToken) String() string {
	switch {
	case t.CAHash == "":
		return t.Secret
	case t.BootstrapTokenID != "":
		return FormatBootstrapToken(t.CAHash, t.Secret)
	}
	return FormatToken(t.CAHash, t.Secret)
}

// ParseToken splits a join token into the CA hash and the secret (for a
// bootstrap token, <id>.<secret>). A token without the K10 prefix is taken
// as a bare secret with an empty hash.
func ParseToken(token string) (caHash, secret string, err error) {
	t, err := ParseJoinToken(token)
	return t.CAHash, t.Secret, err
}

// ParseJoinToken parses K10<hash>::server:<secret>, K10<hash>::<id>.<secret>
// (a bootstrap token), K10<hash>::<secret> (k3s' short form of the first)
// or a bare secret.
func ParseJoinToken(token string) (JoinToken, error) {
	token = strings.TrimSpace(token)
	if token == "" {
		return JoinToken{}, errors.New("empty token")
	}
	if !strings.HasPrefix(token, tokenPrefix) {
		return withBootstrapID(JoinToken{Secret: token}), nil
	}
	hash, creds, ok := strings.Cut(strings.TrimPrefix(token, tokenPrefix), "::")
	if !ok {
		return JoinToken{}, errors.New("malformed token: missing \"::\"")
	}
	if len(hash) != caHashHexSize {
		return JoinToken{}, fmt.Errorf("malformed token: CA hash has %d characters, want %d", len(hash), caHashHexSize)
	}
	if _, err := hex.DecodeString(hash); err != nil {
		return JoinToken{}, fmt.Errorf("malformed token: CA hash: %w", err)
	}
	user, secret, ok := strings.Cut(creds, ":")
	switch {
	case !ok:
		// K10<hash>::<id>.<secret>, or k3s' K10<hash>::<secret>.
		secret = creds
	case user != tokenUser:
		return JoinToken{}, fmt.Errorf("malformed token: unknown user %q", user)
	}
	if secret == "" {
		return JoinToken{}, errors.New("malformed token: empty secret")
	}
	t := JoinToken{CAHash: strings.ToLower(hash), Secret: secret}
	if !ok {
		t = withBootstrapID(t)
	}
	return t, nil
}

// withBootstrapID sets BootstrapTokenID when t's secret is a bootstrap
// token, [a-z0-9]{6}.[a-z0-9]{16}.
func withBootstrapID(t JoinToken) JoinToken {
	if bootstraputil.IsValidBootstrapToken(t.Secret) {
		t.BootstrapTokenID, _, _ = strings.Cut(t.Secret, ".")
	}
	return t
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

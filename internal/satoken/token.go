package satoken

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/golang-jwt/jwt/v5"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/uuid"
)

// Lookup reads the objects a token names. Each returns the object or an
// error (any error, not found included, makes the token invalid).
type Lookup interface {
	ServiceAccount(ctx context.Context, ns, name string) (*corev1.ServiceAccount, error)
	Pod(ctx context.Context, ns, name string) (*corev1.Pod, error)
	Secret(ctx context.Context, ns, name string) (*corev1.Secret, error)
	Node(ctx context.Context, name string) (*corev1.Node, error)
}

// Config configures Tokens.
type Config struct {
	// Key signs and verifies tokens.
	Key *ecdsa.PrivateKey
	// Issuer is the iss claim of issued tokens and the only one accepted
	// (kube-apiserver's --service-account-issuer).
	Issuer string
	// Audiences are the audiences the API server accepts and gives tokens
	// requested without any (--api-audiences); empty: Issuer alone.
	Audiences []string
	// Lookup checks that the objects a token names still exist.
	Lookup Lookup
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// Tokens issues and validates ServiceAccount tokens.
type Tokens struct {
	cfg   Config
	keyID string
}

// New returns Tokens for cfg.
func New(cfg Config) (*Tokens, error) {
	if cfg.Key == nil {
		return nil, errors.New("satoken: Key is required")
	}
	if cfg.Issuer == "" {
		return nil, errors.New("satoken: Issuer is required")
	}
	if cfg.Lookup == nil {
		return nil, errors.New("satoken: Lookup is required")
	}
	if len(cfg.Audiences) == 0 {
		cfg.Audiences = []string{cfg.Issuer}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	der, err := x509.MarshalPKIXPublicKey(&cfg.Key.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("satoken: %w", err)
	}
	sum := sha256.Sum256(der)
	return &Tokens{cfg: cfg, keyID: base64.RawURLEncoding.EncodeToString(sum[:])}, nil
}

// Audiences returns the audiences the API server accepts.
func (t *Tokens) Audiences() []string { return slices.Clone(t.cfg.Audiences) }

// Request says whom a token is for.
type Request struct {
	Namespace      string
	ServiceAccount Ref
	// Audiences of the token; empty: the API server's.
	Audiences []string
	// Lifetime of the token from now.
	Lifetime time.Duration
	// At most one bound object; the token dies with it.
	Pod, Secret, Node *Ref
}

// Issue signs a token for r and returns it with its expiry.
func (t *Tokens) Issue(r Request) (string, time.Time, error) {
	if r.Lifetime <= 0 {
		return "", time.Time{}, errors.New("token lifetime must be positive")
	}
	aud := r.Audiences
	if len(aud) == 0 {
		aud = t.cfg.Audiences
	}
	now := t.cfg.Now().Truncate(time.Second)
	exp := now.Add(r.Lifetime)
	sa := r.ServiceAccount
	claims := Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    t.cfg.Issuer,
			Subject:   UserName(r.Namespace, sa.Name),
			Audience:  jwt.ClaimStrings(slices.Clone(aud)),
			ExpiresAt: jwt.NewNumericDate(exp),
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now),
			ID:        string(uuid.NewUUID()),
		},
		Kubernetes: Private{Namespace: r.Namespace, ServiceAccount: &sa, Pod: r.Pod, Secret: r.Secret, Node: r.Node},
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, claims)
	tok.Header["kid"] = t.keyID
	s, err := tok.SignedString(t.cfg.Key)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("sign token: %w", err)
	}
	return s, exp, nil
}

// deletedGrace is how long after its deletion deadline a bound pod still
// vouches for its tokens, as upstream: a terminating pod's preStop hooks
// and final requests keep working.
const deletedGrace = 60 * time.Second

// Validate checks raw and returns its claims: signature, issuer, an
// audience the API server accepts, lifetime, and that the ServiceAccount
// and bound object still exist with the UIDs the token names.
func (t *Tokens) Validate(ctx context.Context, raw string) (*Claims, error) {
	claims := &Claims{}
	_, err := jwt.ParseWithClaims(raw, claims, func(*jwt.Token) (any, error) { return &t.cfg.Key.PublicKey, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodES256.Alg()}),
		jwt.WithIssuer(t.cfg.Issuer), jwt.WithExpirationRequired(), jwt.WithIssuedAt(),
		jwt.WithTimeFunc(t.cfg.Now))
	if err != nil {
		return nil, err
	}
	if !slices.ContainsFunc(claims.Audience, func(a string) bool { return slices.Contains(t.cfg.Audiences, a) }) {
		return nil, errors.New("token audiences are not accepted")
	}
	k := claims.Kubernetes
	ns, name, ok := SplitUserName(claims.Subject)
	if !ok || k.ServiceAccount == nil || ns != k.Namespace || name != k.ServiceAccount.Name {
		return nil, errors.New("token subject does not name its service account")
	}
	sa, err := t.cfg.Lookup.ServiceAccount(ctx, ns, name)
	if err != nil {
		return nil, fmt.Errorf("service account %s/%s: %w", ns, name, err)
	}
	if err := sameObject(sa.UID, sa.DeletionTimestamp.IsZero(), k.ServiceAccount, "service account"); err != nil {
		return nil, err
	}
	switch {
	case k.Pod != nil:
		pod, err := t.cfg.Lookup.Pod(ctx, ns, k.Pod.Name)
		if err != nil {
			return nil, fmt.Errorf("pod %s/%s: %w", ns, k.Pod.Name, err)
		}
		alive := pod.DeletionTimestamp == nil || pod.DeletionTimestamp.Add(deletedGrace).After(t.cfg.Now())
		if err := sameObject(pod.UID, alive, k.Pod, "pod"); err != nil {
			return nil, err
		}
	case k.Secret != nil:
		s, err := t.cfg.Lookup.Secret(ctx, ns, k.Secret.Name)
		if err != nil {
			return nil, fmt.Errorf("secret %s/%s: %w", ns, k.Secret.Name, err)
		}
		if err := sameObject(s.UID, s.DeletionTimestamp == nil, k.Secret, "secret"); err != nil {
			return nil, err
		}
	case k.Node != nil:
		n, err := t.cfg.Lookup.Node(ctx, k.Node.Name)
		if err != nil {
			return nil, fmt.Errorf("node %s: %w", k.Node.Name, err)
		}
		if err := sameObject(n.UID, n.DeletionTimestamp == nil, k.Node, "node"); err != nil {
			return nil, err
		}
	}
	return claims, nil
}

// sameObject checks that the object found is the one the token names (its
// UID) and is not being deleted.
func sameObject(uid types.UID, alive bool, ref *Ref, kind string) error {
	if string(uid) != ref.UID {
		return fmt.Errorf("%s %s was recreated (UID %s, token names %s)", kind, ref.Name, uid, ref.UID)
	}
	if !alive {
		return fmt.Errorf("%s %s is being deleted", kind, ref.Name)
	}
	return nil
}

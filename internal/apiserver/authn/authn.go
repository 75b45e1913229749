package authn

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Groups every authenticated user belongs to, as upstream adds them.
const (
	GroupAuthenticated   = "system:authenticated"
	GroupUnauthenticated = "system:unauthenticated"
	UserAnonymous        = "system:anonymous"
)

// User is the identity of an authenticated request.
type User struct {
	Name   string
	Groups []string
}

// TokenAuthenticator returns the user of the bearer token of request r,
// or false when the token is unknown. It must compare in constant time
// (or verify a signature).
type TokenAuthenticator func(r *http.Request, token string) (User, bool)

// Config configures the authentication middleware.
type Config struct {
	// ClientCAs verifies client certificates the TLS layer did not verify
	// itself (tls.RequestClientCert). With tls.VerifyClientCertIfGiven the
	// verified chains of the connection are used and this may be nil.
	ClientCAs *x509.CertPool
	// Tokens maps static bearer tokens to users.
	Tokens map[string]User
	// TokenAuthenticator, when set, is asked about bearer tokens not in
	// Tokens.
	TokenAuthenticator TokenAuthenticator
	// PublicPaths are reachable without credentials in addition to
	// /healthz, /livez, /readyz and /version (upstream's
	// system:public-info-viewer), e.g. /cacerts for joining agents.
	PublicPaths []string
}

// defaultPublicPaths are the paths upstream's RBAC opens to anonymous
// users (system:public-info-viewer).
func defaultPublicPaths() []string {
	return []string{"/healthz", "/livez", "/readyz", "/version", "/version/"}
}

type ctxKey struct{}

// WithUser returns a copy of ctx carrying u.
func WithUser(ctx context.Context, u User) context.Context {
	return context.WithValue(ctx, ctxKey{}, u)
}

// FromContext returns the user of the request context, if any.
func FromContext(ctx context.Context) (User, bool) {
	u, ok := ctx.Value(ctxKey{}).(User)
	return u, ok
}

type tokenEntry struct {
	sum  [sha256.Size]byte
	user User
}

type authenticator struct {
	cfg    Config
	tokens []tokenEntry
	public map[string]bool
}

// New returns middleware that authenticates every request and puts the
// user into its context, answering 401 to requests without valid
// credentials for non-public paths.
func New(cfg Config) func(http.Handler) http.Handler {
	a := &authenticator{cfg: cfg, public: map[string]bool{}}
	for tok, u := range cfg.Tokens {
		if tok == "" {
			continue
		}
		a.tokens = append(a.tokens, tokenEntry{sum: sha256.Sum256([]byte(tok)), user: u})
	}
	for _, p := range slices.Concat(defaultPublicPaths(), cfg.PublicPaths) {
		a.public[p] = true
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			u, ok, presented := a.authenticate(r)
			if !ok {
				// Like upstream, bad credentials fail even where anonymous
				// access would be allowed.
				if presented || !a.public[r.URL.Path] {
					writeUnauthorized(w)
					return
				}
				u = User{Name: UserAnonymous, Groups: []string{GroupUnauthenticated}}
			}
			next.ServeHTTP(w, r.WithContext(WithUser(r.Context(), u)))
		})
	}
}

// authenticate tries the client certificate first, then the bearer token,
// like upstream's union authenticator. presented reports whether the
// request carried a bearer token.
func (a *authenticator) authenticate(r *http.Request) (u User, ok, presented bool) {
	if u, ok := a.fromCert(r); ok {
		return u, true, false
	}
	tok, ok := bearerToken(r)
	if !ok {
		return User{}, false, r.Header.Get("Authorization") != ""
	}
	if u, ok := a.fromToken(r, tok); ok {
		return withAuthenticated(u), true, true
	}
	return User{}, false, true
}

func (a *authenticator) fromCert(r *http.Request) (User, bool) {
	if r.TLS == nil {
		return User{}, false
	}
	var leaf *x509.Certificate
	switch {
	case len(r.TLS.VerifiedChains) > 0 && len(r.TLS.VerifiedChains[0]) > 0:
		leaf = r.TLS.VerifiedChains[0][0]
	case a.cfg.ClientCAs != nil && len(r.TLS.PeerCertificates) > 0:
		inter := x509.NewCertPool()
		for _, c := range r.TLS.PeerCertificates[1:] {
			inter.AddCert(c)
		}
		c := r.TLS.PeerCertificates[0]
		if _, err := c.Verify(x509.VerifyOptions{
			Roots: a.cfg.ClientCAs, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		}); err != nil {
			return User{}, false
		}
		leaf = c
	default:
		return User{}, false
	}
	if leaf.Subject.CommonName == "" {
		return User{}, false
	}
	return withAuthenticated(User{Name: leaf.Subject.CommonName, Groups: slices.Clone(leaf.Subject.Organization)}), true
}

// fromToken compares tok against every known token in constant time
// (hashes make the lengths equal), then asks the TokenAuthenticator.
func (a *authenticator) fromToken(r *http.Request, tok string) (User, bool) {
	sum := sha256.Sum256([]byte(tok))
	var found User
	match := 0
	for _, e := range a.tokens {
		if subtle.ConstantTimeCompare(sum[:], e.sum[:]) == 1 {
			found, match = e.user, 1
		}
	}
	if match == 1 {
		return found, true
	}
	if a.cfg.TokenAuthenticator != nil {
		return a.cfg.TokenAuthenticator(r, tok)
	}
	return User{}, false
}

func bearerToken(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

func withAuthenticated(u User) User {
	if !slices.Contains(u.Groups, GroupAuthenticated) {
		u.Groups = append(slices.Clone(u.Groups), GroupAuthenticated)
	}
	return u
}

// writeUnauthorized answers like kube-apiserver does to a request without
// valid credentials.
func writeUnauthorized(w http.ResponseWriter) {
	s := metav1.Status{
		TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
		Status:   metav1.StatusFailure,
		Message:  "Unauthorized",
		Reason:   metav1.StatusReasonUnauthorized,
		Code:     http.StatusUnauthorized,
	}
	data, _ := json.Marshal(s) // a plain struct always encodes
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusUnauthorized)
	_, _ = w.Write(data)
}

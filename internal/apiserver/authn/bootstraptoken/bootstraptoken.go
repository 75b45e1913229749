package bootstraptoken

import (
	"crypto/subtle"
	"errors"
	"log/slog"
	"net/http"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	bootstrapapi "k8s.io/cluster-bootstrap/token/api"
	bootstrapsecrets "k8s.io/cluster-bootstrap/util/secrets"
	bootstraptokens "k8s.io/cluster-bootstrap/util/tokens"

	"github.com/svcnet/svcnet/internal/apiserver/authn"
)

// Config configures an Authenticator.
type Config struct {
	// Secrets reads the token Secrets (an informer's lister; only
	// kube-system is looked at). Required.
	Secrets corelisters.SecretLister
	// Now is the clock tokens expire by; nil means time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// Authenticator authenticates bootstrap tokens.
type Authenticator struct {
	cfg Config
}

// New returns an Authenticator.
func New(cfg Config) (*Authenticator, error) {
	if cfg.Secrets == nil {
		return nil, errors.New("bootstraptoken: a Secret lister is required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Authenticator{cfg: cfg}, nil
}

var _ authn.TokenAuthenticator = (*Authenticator)(nil).AuthenticateToken

// AuthenticateToken returns the user of a valid bootstrap token, false
// for anything else (not a bootstrap token, no such Secret, a wrong
// secret, an unusable Secret). It is an authn.TokenAuthenticator.
func (a *Authenticator) AuthenticateToken(_ *http.Request, token string) (authn.User, bool) {
	id, secret, err := bootstraptokens.ParseToken(token)
	if err != nil {
		return authn.User{}, false
	}
	s, err := a.cfg.Secrets.Secrets(metav1.NamespaceSystem).Get(bootstrapapi.BootstrapTokenSecretPrefix + id)
	if err != nil {
		return authn.User{}, false
	}
	// The secret is compared first and in constant time, so nothing below
	// tells a caller without it anything about the Secret.
	if subtle.ConstantTimeCompare([]byte(bootstrapsecrets.GetData(s, bootstrapapi.BootstrapTokenSecretKey)), []byte(secret)) != 1 {
		a.refused(s, "wrong secret")
		return authn.User{}, false
	}
	groups, reason := a.usable(s, id)
	if reason != "" {
		a.refused(s, reason)
		return authn.User{}, false
	}
	return authn.User{Name: bootstrapapi.BootstrapUserPrefix + id, Groups: groups}, true
}

// usable returns the groups of the token Secret s of id, or why it may not
// authenticate.
func (a *Authenticator) usable(s *corev1.Secret, id string) (groups []string, reason string) {
	switch {
	case s.DeletionTimestamp != nil:
		return nil, "being deleted"
	case s.Type != bootstrapapi.SecretTypeBootstrapToken:
		return nil, "not of type " + string(bootstrapapi.SecretTypeBootstrapToken)
	case bootstrapsecrets.GetData(s, bootstrapapi.BootstrapTokenIDKey) != id:
		return nil, "wrong " + bootstrapapi.BootstrapTokenIDKey
	case bootstrapsecrets.HasExpired(s, a.cfg.Now()):
		return nil, "expired"
	case bootstrapsecrets.GetData(s, bootstrapapi.BootstrapTokenUsageAuthentication) != "true":
		return nil, "not marked " + bootstrapapi.BootstrapTokenUsageAuthentication + "=true"
	}
	groups, err := bootstrapsecrets.GetGroups(s)
	if err != nil {
		return nil, "invalid " + bootstrapapi.BootstrapTokenExtraGroupsKey + ": " + err.Error()
	}
	return groups, ""
}

func (a *Authenticator) refused(s *corev1.Secret, reason string) {
	a.cfg.Logger.Debug("Refused bootstrap token", "secret", s.Namespace+"/"+s.Name, "reason", reason)
}

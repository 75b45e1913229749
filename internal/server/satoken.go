package server

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"net/http"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/svcnet/svcnet/internal/apiserver/authn"
	apirest "github.com/svcnet/svcnet/internal/apiserver/rest"
	"github.com/svcnet/svcnet/internal/pki"
	"github.com/svcnet/svcnet/internal/registry"
	"github.com/svcnet/svcnet/internal/registry/authentication/tokenreview"
	"github.com/svcnet/svcnet/internal/satoken"
	"github.com/svcnet/svcnet/internal/storage"
)

// storeLookup reads the objects ServiceAccount tokens name straight from
// storage, so a token dies with its ServiceAccount or pod at once.
type storeLookup struct {
	store storage.Interface
}

var _ satoken.Lookup = storeLookup{}

func (l storeLookup) get(ctx context.Context, resource, ns, name string, into runtime.Object) error {
	key := apirest.StoragePrefix(&registry.Resource{Resource: resource}) + "/"
	if ns != "" {
		key += ns + "/"
	}
	if err := l.store.Get(ctx, key+name, into); err != nil {
		if storage.IsNotFound(err) {
			return apierrors.NewNotFound(corev1.Resource(resource), name)
		}
		return err
	}
	return nil
}

func (l storeLookup) ServiceAccount(ctx context.Context, ns, name string) (*corev1.ServiceAccount, error) {
	sa := &corev1.ServiceAccount{}
	return sa, l.get(ctx, "serviceaccounts", ns, name, sa)
}

func (l storeLookup) Pod(ctx context.Context, ns, name string) (*corev1.Pod, error) {
	p := &corev1.Pod{}
	return p, l.get(ctx, "pods", ns, name, p)
}

func (l storeLookup) Secret(ctx context.Context, ns, name string) (*corev1.Secret, error) {
	s := &corev1.Secret{}
	return s, l.get(ctx, "secrets", ns, name, s)
}

func (l storeLookup) Node(ctx context.Context, name string) (*corev1.Node, error) {
	n := &corev1.Node{}
	return n, l.get(ctx, "nodes", "", name, n)
}

// serviceAccountTokens returns the issuer and validator of ServiceAccount
// tokens, signed with the cluster's shared key.
func (s *Server) serviceAccountTokens(certs *pki.PKI, store storage.Interface) (*satoken.Tokens, error) {
	return satoken.New(satoken.Config{Key: certs.ServiceAccountKey(), Issuer: s.cfg.serviceAccountIssuer(),
		Audiences: s.cfg.APIAudiences, Lookup: storeLookup{store: store}})
}

// serviceAccountAuthenticator authenticates requests bearing a valid
// ServiceAccount token as system:serviceaccount:<ns>:<name>.
func serviceAccountAuthenticator(tokens *satoken.Tokens) authn.TokenAuthenticator {
	return func(r *http.Request, tok string) (authn.User, bool) {
		claims, err := tokens.Validate(r.Context(), tok)
		if err != nil {
			return authn.User{}, false
		}
		ns := claims.Kubernetes.Namespace
		return authn.User{Name: satoken.UserName(ns, claims.Kubernetes.ServiceAccount.Name), Groups: satoken.Groups(ns)}, true
	}
}

// tokenReviewer answers TokenReviews: ServiceAccount tokens for the asked
// audiences, and the join token for the API server's own.
func tokenReviewer(tokens *satoken.Tokens, nodeSecret string) tokenreview.Reviewer {
	return func(ctx context.Context, tok string, audiences []string) (authn.User, []string, error) {
		got, want := sha256.Sum256([]byte(tok)), sha256.Sum256([]byte(nodeSecret))
		if len(audiences) == 0 && subtle.ConstantTimeCompare(got[:], want[:]) == 1 {
			return joinTokenIdentity(), tokens.Audiences(), nil
		}
		claims, auds, err := tokens.ValidateFor(ctx, tok, audiences)
		if err != nil {
			return authn.User{}, nil, err
		}
		ns := claims.Kubernetes.Namespace
		groups := append(satoken.Groups(ns), authn.GroupAuthenticated)
		return authn.User{Name: satoken.UserName(ns, claims.Kubernetes.ServiceAccount.Name), Groups: groups}, auds, nil
	}
}

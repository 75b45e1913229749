package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"

	"github.com/svcnet/svcnet/internal/apiserver/admission/noderestriction"
	"github.com/svcnet/svcnet/internal/apiserver/authn"
	"github.com/svcnet/svcnet/internal/apiserver/authn/bootstraptoken"
	"github.com/svcnet/svcnet/internal/apiserver/authz"
	nodeauthz "github.com/svcnet/svcnet/internal/apiserver/authz/node"
	"github.com/svcnet/svcnet/internal/apiserver/authz/rbac"
	"github.com/svcnet/svcnet/internal/apiserver/bootstrap/rbacpolicy"
	"github.com/svcnet/svcnet/internal/registry"
)

// privilegedGroup may do everything, whatever RBAC says.
const privilegedGroup = "system:masters"

// access is what decides who may do what: kube-apiserver's
// --authorization-mode=Node,RBAC behind system:masters, the admission
// plugins that go with them (NodeRestriction, RBAC escalation checks),
// and the bootstrap-token authenticator, all reading informers of the
// loopback client (the admin, so they never ask themselves).
type access struct {
	factory    informers.SharedInformerFactory
	authorizer authz.Authorizer
	admit      registry.AdmitFunc
	// bootstrapTokens authenticates the bootstrap tokens of kube-system.
	bootstrapTokens authn.TokenAuthenticator
	// secrets are kube-system's Secrets, for bootstrapTokens.
	secrets informers.SharedInformerFactory
	synced  []cache.InformerSynced
	// policyReconciled is closed once the default roles exist.
	policyReconciled chan struct{}
}

// newAccess builds the authorizers and admission on informers of
// loopback; start runs them.
func (s *Server) newAccess(loopback *rest.Config, lookup storeLookup) (*access, error) {
	client, err := kubernetes.NewForConfig(loopback)
	if err != nil {
		return nil, err
	}
	factory := informers.NewSharedInformerFactory(client, 0)
	rbacInformers := factory.Rbac().V1()
	r := rbac.New(rbac.Config{Roles: rbacInformers.Roles().Lister(), RoleBindings: rbacInformers.RoleBindings().Lister(),
		ClusterRoles: rbacInformers.ClusterRoles().Lister(), ClusterRoleBindings: rbacInformers.ClusterRoleBindings().Lister()})
	node, err := nodeauthz.New(nodeauthz.Config{Informers: factory, Logger: s.logger.With("component", "node-authorizer")})
	if err != nil {
		return nil, err
	}
	a := &access{factory: factory, policyReconciled: make(chan struct{})}
	a.authorizer = authz.Union{authz.PrivilegedGroup{Group: privilegedGroup}, node, r}
	a.admit = registry.Admitters(noderestriction.New(noderestriction.Config{GetPod: lookup.Pod}),
		rbac.EscalationCheck(a.authorizer, r))
	for _, inf := range []cache.SharedIndexInformer{rbacInformers.Roles().Informer(), rbacInformers.RoleBindings().Informer(),
		rbacInformers.ClusterRoles().Informer(), rbacInformers.ClusterRoleBindings().Informer()} {
		a.synced = append(a.synced, inf.HasSynced)
	}
	a.synced = append(a.synced, node.HasSynced)
	a.secrets = informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithNamespace(metav1.NamespaceSystem))
	secrets := a.secrets.Core().V1().Secrets()
	bt, err := bootstraptoken.New(bootstraptoken.Config{Secrets: secrets.Lister(),
		Logger: s.logger.With("component", "bootstrap-token-authenticator")})
	if err != nil {
		return nil, err
	}
	a.bootstrapTokens = bt.AuthenticateToken
	a.synced = append(a.synced, secrets.Informer().HasSynced)
	return a, nil
}

// start runs the informers until ctx ends.
func (a *access) start(ctx context.Context) {
	a.factory.Start(ctx.Done())
	a.secrets.Start(ctx.Done())
}

// ready reports whether every decision can be made from complete caches
// and the default roles exist (part of /readyz).
func (a *access) ready() error {
	for _, synced := range a.synced {
		if !synced() {
			return errors.New("authorization caches not synced")
		}
	}
	select {
	case <-a.policyReconciled:
		return nil
	default:
		return errors.New("default RBAC roles not reconciled")
	}
}

// tokenAuthenticators chains bearer-token authenticators: the first that
// knows the token decides.
func tokenAuthenticators(fns ...authn.TokenAuthenticator) authn.TokenAuthenticator {
	return func(r *http.Request, tok string) (authn.User, bool) {
		for _, f := range fns {
			if f == nil {
				continue
			}
			if u, ok := f(r, tok); ok {
				return u, true
			}
		}
		return authn.User{}, false
	}
}

// reconcilePolicy creates the default roles and bindings (and restores
// what is missing from those that auto-update), retrying until it
// succeeds or ctx ends, then marks the server ready for them.
func (s *Server) reconcilePolicy(ctx context.Context, client kubernetes.Interface) error {
	log := s.logger.With("component", "rbac-bootstrap")
	delay := 100 * time.Millisecond
	for {
		err := rbacpolicy.Reconcile(ctx, client, log)
		if err == nil {
			close(s.access.policyReconciled)
			return nil
		}
		log.Warn("Retrying to reconcile the default RBAC roles", "err", err, "retryIn", delay)
		select {
		case <-ctx.Done():
			return fmt.Errorf("default RBAC roles: %w", err)
		case <-time.After(delay):
		}
		delay = min(2*delay, 5*time.Second)
	}
}

package builtin

import (
	"context"
	"time"

	networkingv1 "k8s.io/api/networking/v1"

	"github.com/svcnet/svcnet/internal/apiserver/authz"
	"github.com/svcnet/svcnet/internal/printers"
	"github.com/svcnet/svcnet/internal/registry"
	"github.com/svcnet/svcnet/internal/registry/apps/controllerrevision"
	"github.com/svcnet/svcnet/internal/registry/apps/daemonset"
	"github.com/svcnet/svcnet/internal/registry/apps/deployment"
	"github.com/svcnet/svcnet/internal/registry/apps/replicaset"
	"github.com/svcnet/svcnet/internal/registry/apps/statefulset"
	"github.com/svcnet/svcnet/internal/registry/authentication/selfsubjectreview"
	"github.com/svcnet/svcnet/internal/registry/authentication/tokenreview"
	"github.com/svcnet/svcnet/internal/registry/authorization/review"
	"github.com/svcnet/svcnet/internal/registry/certificates/csr"
	"github.com/svcnet/svcnet/internal/registry/coordination/lease"
	"github.com/svcnet/svcnet/internal/registry/core/configmap"
	"github.com/svcnet/svcnet/internal/registry/core/endpoints"
	coreevent "github.com/svcnet/svcnet/internal/registry/core/event"
	"github.com/svcnet/svcnet/internal/registry/core/namespace"
	"github.com/svcnet/svcnet/internal/registry/core/node"
	"github.com/svcnet/svcnet/internal/registry/core/pod"
	"github.com/svcnet/svcnet/internal/registry/core/secret"
	"github.com/svcnet/svcnet/internal/registry/core/service"
	"github.com/svcnet/svcnet/internal/registry/core/serviceaccount"
	"github.com/svcnet/svcnet/internal/registry/discovery/endpointslice"
	eventsv1 "github.com/svcnet/svcnet/internal/registry/events/event"
	"github.com/svcnet/svcnet/internal/registry/networking/ingress"
	"github.com/svcnet/svcnet/internal/registry/networking/ingressclass"
	"github.com/svcnet/svcnet/internal/registry/networking/ipaddress"
	"github.com/svcnet/svcnet/internal/registry/networking/servicecidr"
	"github.com/svcnet/svcnet/internal/registry/rbac/role"
	"github.com/svcnet/svcnet/internal/registry/rbac/rolebinding"
)

// Config carries what the resources with side effects need.
type Config struct {
	// Service configures Service defaulting, validation and the ClusterIP
	// and NodePort allocation hooks.
	Service service.Config
	// IngressClasses lists the stored IngressClasses, for the default
	// class of new Ingresses (nil: no default).
	IngressClasses func(ctx context.Context) ([]networkingv1.IngressClass, error)
	// EventTTL is how long core/v1 and events.k8s.io/v1 events live after
	// their last write (--event-ttl; 0: forever).
	EventTTL time.Duration
	// Printer renders Tables; the zero value uses the wall clock.
	Printer printers.Printer
	// PodLog serves pods/log (nil: not served).
	PodLog registry.Connector
	// PodExec serves pods/exec (nil: not served).
	PodExec registry.Connector
	// PodAttach serves pods/attach (nil: not served).
	PodAttach registry.Connector
	// PodPortForward serves pods/portforward (nil: not served).
	PodPortForward registry.Connector
	// PodProxy and ServiceProxy serve pods/proxy and services/proxy (nil:
	// not served).
	PodProxy, ServiceProxy registry.Connector
	// ServiceAccountTokens serves serviceaccounts/token (Tokens nil: not
	// served).
	ServiceAccountTokens serviceaccount.TokenConfig
	// Pod configures pod admission (the ServiceAccount token volume).
	Pod pod.Config
	// TokenReviewer answers TokenReviews (nil: not served).
	TokenReviewer tokenreview.Reviewer
	// Authorizer answers the authorization.k8s.io reviews; nil:
	// authz.AlwaysAllow, what the API server enforces today.
	Authorizer authz.Authorizer
	// NodeProxy serves nodes/proxy (nil: not served).
	NodeProxy registry.Connector
}

// Resources returns every served resource.
func Resources(cfg Config) ([]registry.Resource, error) {
	svc, err := service.Resource(cfg.Service)
	if err != nil {
		return nil, err
	}
	all := []registry.Resource{
		// core/v1
		namespace.Resource(),
		node.Resource(),
		pod.Resource(cfg.Pod),
		svc,
		endpoints.Resource(),
		configmap.Resource(),
		secret.Resource(),
		serviceaccount.Resource(cfg.ServiceAccountTokens),
		coreevent.Resource(cfg.EventTTL),
		// apps/v1
		deployment.Resource(),
		replicaset.Resource(),
		statefulset.Resource(),
		daemonset.Resource(),
		controllerrevision.Resource(),
		// discovery.k8s.io/v1, coordination.k8s.io/v1, events.k8s.io/v1
		endpointslice.Resource(),
		lease.Resource(),
		eventsv1.Resource(cfg.EventTTL),
		// authentication.k8s.io/v1
		selfsubjectreview.Resource(),
		// networking.k8s.io/v1
		ingress.Resource(ingress.Config{IngressClasses: cfg.IngressClasses}),
		ingressclass.Resource(),
		servicecidr.Resource(),
		ipaddress.Resource(),
		// certificates.k8s.io/v1
		csr.Resource(),
	}
	// authorization.k8s.io/v1
	var authorizer authz.Authorizer = authz.AlwaysAllow{}
	if cfg.Authorizer != nil {
		authorizer = cfg.Authorizer
	}
	all = append(all, review.Resources(authorizer)...)
	if cfg.TokenReviewer != nil {
		all = append(all, tokenreview.Resource(cfg.TokenReviewer))
	}
	// rbac.authorization.k8s.io/v1 (served, not yet enforced)
	all = append(all, role.Resources()...)
	all = append(all, rolebinding.Resources()...)
	for i := range all {
		var connectors map[string]registry.Connector
		switch {
		case all[i].Group == "" && all[i].Resource == "pods":
			connectors = map[string]registry.Connector{"log": cfg.PodLog, "exec": cfg.PodExec,
				"portforward": cfg.PodPortForward, "proxy": cfg.PodProxy, "attach": cfg.PodAttach}
		case all[i].Group == "" && all[i].Resource == "services":
			connectors = map[string]registry.Connector{"proxy": cfg.ServiceProxy}
		case all[i].Group == "" && all[i].Resource == "nodes":
			connectors = map[string]registry.Connector{"proxy": cfg.NodeProxy}
		}
		for name, c := range connectors {
			if c == nil {
				continue
			}
			if all[i].Connectors == nil {
				all[i].Connectors = map[string]registry.Connector{}
			}
			all[i].Connectors[name] = c
		}
		if all[i].Table == nil {
			all[i].Table = cfg.Printer.For(all[i].GroupVersionResource())
		}
	}
	return all, nil
}

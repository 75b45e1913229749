package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"

	"github.com/svcnet/svcnet/internal/apiserver/authn"
	"github.com/svcnet/svcnet/internal/apiserver/authz"
)

// Config configures the Node authorizer.
type Config struct {
	// Informers provides the Pod informer (and the PersistentVolume one
	// with PersistentVolumes). New registers them: the caller starts the
	// factory after New, as it does for its other informers.
	Informers informers.SharedInformerFactory
	// PersistentVolumes relates the PersistentVolumes bound to a pod's
	// claims, and their Secrets, to the pod's node. svcnet serves no
	// persistentvolumes yet: with it set against such a server the
	// informer never syncs.
	PersistentVolumes bool
	// Logger logs refused requests at debug level; nil: slog.Default().
	Logger *slog.Logger
}

// Authorizer is the Node authorizer.
type Authorizer struct {
	graph  *graph
	rules  []rule
	synced []cache.InformerSynced
	log    *slog.Logger
}

var _ authz.Authorizer = (*Authorizer)(nil)

// New returns a Node authorizer fed by the informers of cfg. Until they
// have synced (HasSynced), nodes get no opinion on what the graph decides.
func New(cfg Config) (*Authorizer, error) {
	if cfg.Informers == nil {
		return nil, errors.New("node authorizer: Informers is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	z := &Authorizer{graph: newGraph(), rules: staticRules(), log: cfg.Logger}
	reg, err := cfg.Informers.Core().V1().Pods().Informer().AddEventHandler(podHandler(z.graph))
	if err != nil {
		return nil, fmt.Errorf("node authorizer: pod informer: %w", err)
	}
	z.synced = append(z.synced, reg.HasSynced)
	if cfg.PersistentVolumes {
		reg, err := cfg.Informers.Core().V1().PersistentVolumes().Informer().AddEventHandler(pvHandler(z.graph))
		if err != nil {
			return nil, fmt.Errorf("node authorizer: persistentvolume informer: %w", err)
		}
		z.synced = append(z.synced, reg.HasSynced)
	}
	return z, nil
}

// HasSynced reports whether the graph holds every pod (and
// PersistentVolume) of the informers' first list.
func (z *Authorizer) HasSynced() bool {
	for _, s := range z.synced {
		if !s() {
			return false
		}
	}
	return true
}

// Authorize allows a node what its static rules and the graph allow;
// it has no opinion on anything else, nor on users that are not nodes.
func (z *Authorizer) Authorize(_ context.Context, a authz.Attributes) authz.Decision {
	node, ok := Identity(a.User)
	if !ok {
		return authz.Decision{}
	}
	if node == "" {
		return authz.Decision{Reason: fmt.Sprintf("unknown node for user %q", a.User.Name)}
	}
	if !a.ResourceRequest {
		return authz.Decision{}
	}
	for _, r := range z.rules {
		if r.allows(node, a) {
			return authz.Decision{Allowed: true}
		}
	}
	var d authz.Decision
	if a.Group == corev1.GroupName {
		switch a.Resource {
		case "secrets":
			d = z.authorizeRead(node, kindSecret, a)
		case "configmaps":
			d = z.authorizeRead(node, kindConfigMap, a)
		case "persistentvolumeclaims":
			d = z.authorizeRead(node, kindPVC, a)
		case "persistentvolumes":
			d = z.authorizeRead(node, kindPV, a)
		case "serviceaccounts":
			d = z.authorizeToken(node, a)
		case "nodes":
			d.Reason = fmt.Sprintf("node '%s' can only read Nodes and create, update or patch its own Node and its status", node)
		}
	}
	if a.Group == "coordination.k8s.io" && a.Resource == "leases" {
		d.Reason = fmt.Sprintf("node '%s' can only get, create, update, patch or delete its own Lease in the %q namespace",
			node, corev1.NamespaceNodeLease)
	}
	if !d.Allowed {
		z.log.Debug("Refused node request", "node", node, "verb", a.Verb, "group", a.Group, "resource", a.Resource,
			"subresource", a.Subresource, "namespace", a.Namespace, "name", a.Name, "reason", d.Reason)
	}
	return d
}

// authorizeRead allows get, and list and watch of one named object (a
// metadata.name field selector), of an object related to node.
func (z *Authorizer) authorizeRead(node string, k kind, a authz.Attributes) authz.Decision {
	switch {
	case a.Verb != "get" && a.Verb != "list" && a.Verb != "watch":
		return authz.Decision{Reason: "can only read resources of this type"}
	case a.Subresource != "":
		return authz.Decision{Reason: "cannot read subresource"}
	case a.Namespace == "" && k != kindPV:
		return authz.Decision{Reason: "can only read namespaced object of this type"}
	case a.Name == "":
		return authz.Decision{Reason: "No Object name found"}
	}
	return z.authorizeRelated(node, ref{kind: k, namespace: a.Namespace, name: a.Name})
}

// authorizeToken allows creating tokens for the ServiceAccounts of the
// node's pods; NodeRestriction checks that the token is bound to one of
// them.
func (z *Authorizer) authorizeToken(node string, a authz.Attributes) authz.Decision {
	if a.Verb != "create" || a.Name == "" {
		return authz.Decision{Reason: "can only create tokens for individual service accounts"}
	}
	if a.Subresource != "token" {
		return authz.Decision{Reason: "can only create token subresource of serviceaccount"}
	}
	return z.authorizeRelated(node, ref{kind: kindServiceAccount, namespace: a.Namespace, name: a.Name})
}

func (z *Authorizer) authorizeRelated(node string, r ref) authz.Decision {
	if z.graph.related(node, r) {
		return authz.Decision{Allowed: true}
	}
	return authz.Decision{Reason: fmt.Sprintf("no relationship found between node '%s' and this object", node)}
}

// RulesFor lists the static rules of a node that apply in namespace ns,
// with the node's own name filled in. They are incomplete: what the
// graph allows is not listed.
func (z *Authorizer) RulesFor(_ context.Context, u authn.User, ns string) ([]authz.Rule, []authz.Rule, bool) {
	node, ok := Identity(u)
	if !ok {
		return nil, nil, false
	}
	if node == "" {
		return nil, nil, true
	}
	var out []authz.Rule
	for _, r := range z.rules {
		if r.namespace == "" || r.namespace == ns {
			out = append(out, r.nodeRule(node).authzRule())
		}
	}
	return out, nil, true
}

package authz

import (
	"context"

	"github.com/svcnet/svcnet/internal/apiserver/authn"
)

// Attributes describe one request to authorize, as upstream's
// authorizer.Attributes do.
type Attributes struct {
	User authn.User
	// Verb is get, list, watch, create, update, patch, delete,
	// deletecollection (resources) or get, post, ... (non-resource).
	Verb string
	// ResourceRequest says whether Group/Resource/... or Path apply.
	ResourceRequest                                        bool
	Namespace, Group, Version, Resource, Subresource, Name string
	Path                                                   string
}

// Decision is an authorizer's answer.
type Decision struct {
	Allowed bool
	// Denied says the request was refused outright, not merely not
	// allowed by any rule.
	Denied bool
	// Reason says why, for the review's status.
	Reason string
}

// Rule is one rule of what a user may do in a namespace (a
// SelfSubjectRulesReview entry).
type Rule struct {
	Verbs, APIGroups, Resources, ResourceNames, NonResourceURLs []string
}

// Authorizer decides requests and lists a user's rules.
type Authorizer interface {
	Authorize(ctx context.Context, a Attributes) Decision
	// RulesFor lists what u may do in namespace ns; incomplete says the
	// list may miss rules.
	RulesFor(ctx context.Context, u authn.User, ns string) (resource, nonResource []Rule, incomplete bool)
}

// AlwaysAllow allows every request (kube-apiserver's
// --authorization-mode=AlwaysAllow).
type AlwaysAllow struct{}

var _ Authorizer = AlwaysAllow{}

// Authorize allows a.
func (AlwaysAllow) Authorize(context.Context, Attributes) Decision {
	return Decision{Allowed: true, Reason: "svcnet enforces no authorization yet: every authenticated user may do everything"}
}

// RulesFor allows everything.
func (AlwaysAllow) RulesFor(context.Context, authn.User, string) ([]Rule, []Rule, bool) {
	all := []string{"*"}
	return []Rule{{Verbs: all, APIGroups: all, Resources: all}}, []Rule{{Verbs: all, NonResourceURLs: all}}, false
}

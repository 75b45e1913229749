package authz

import (
	"context"
	"slices"
	"strings"

	"github.com/svcnet/svcnet/internal/apiserver/authn"
)

// Union asks each authorizer in turn, as kube-apiserver's
// --authorization-mode list does: the first that allows or denies
// decides; when none has an opinion the request is not allowed, with the
// reasons of all of them.
type Union []Authorizer

var _ Authorizer = Union(nil)

// Authorize asks each authorizer until one decides.
func (u Union) Authorize(ctx context.Context, a Attributes) Decision {
	var reasons []string
	for _, z := range u {
		d := z.Authorize(ctx, a)
		if d.Allowed || d.Denied {
			return d
		}
		if d.Reason != "" {
			reasons = append(reasons, d.Reason)
		}
	}
	return Decision{Reason: strings.Join(reasons, ", ")}
}

// RulesFor joins the rules of every authorizer.
func (u Union) RulesFor(ctx context.Context, user authn.User, ns string) (resource, nonResource []Rule, incomplete bool) {
	for _, z := range u {
		r, n, inc := z.RulesFor(ctx, user, ns)
		resource = append(resource, r...)
		nonResource = append(nonResource, n...)
		incomplete = incomplete || inc
	}
	return resource, nonResource, incomplete
}

// PrivilegedGroup allows everything to members of Group
// (system:masters), whatever RBAC says, as kube-apiserver does; it has no
// opinion on anyone else.
type PrivilegedGroup struct{ Group string }

var _ Authorizer = PrivilegedGroup{}

// Authorize allows members of the group.
func (p PrivilegedGroup) Authorize(_ context.Context, a Attributes) Decision {
	if slices.Contains(a.User.Groups, p.Group) {
		return Decision{Allowed: true}
	}
	return Decision{}
}

// RulesFor gives members of the group every rule.
func (p PrivilegedGroup) RulesFor(ctx context.Context, u authn.User, ns string) ([]Rule, []Rule, bool) {
	if slices.Contains(u.Groups, p.Group) {
		return AlwaysAllow{}.RulesFor(ctx, u, ns)
	}
	return nil, nil, false
}

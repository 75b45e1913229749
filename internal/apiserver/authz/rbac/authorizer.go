package rbac

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/labels"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	rbaclisters "k8s.io/client-go/listers/rbac/v1"

	"github.com/svcnet/svcnet/internal/apiserver/authn"
	"github.com/svcnet/svcnet/internal/apiserver/authz"
)

// serviceAccountPrefix starts the user name of every ServiceAccount token:
// system:serviceaccount:<namespace>:<name>.
const serviceAccountPrefix = "system:serviceaccount:"

// Config gives the authorizer the RBAC objects; all four listers are
// required (informers' listers, so every decision reads memory only).
type Config struct {
	Roles               rbaclisters.RoleLister
	RoleBindings        rbaclisters.RoleBindingLister
	ClusterRoles        rbaclisters.ClusterRoleLister
	ClusterRoleBindings rbaclisters.ClusterRoleBindingLister
}

// Authorizer decides requests from Roles, ClusterRoles and their bindings.
// It also resolves the rules a user holds, for EscalationCheck.
type Authorizer struct{ cfg Config }

var (
	_ authz.Authorizer = (*Authorizer)(nil)
	_ RuleResolver     = (*Authorizer)(nil)
)

// New returns an authorizer reading the listers of cfg.
func New(cfg Config) *Authorizer { return &Authorizer{cfg: cfg} }

// Authorize allows a when a rule bound to its user covers it, with the
// binding in the reason. Otherwise it has no opinion; the reason then
// lists the bindings whose role could not be found, if any.
func (z *Authorizer) Authorize(_ context.Context, a authz.Attributes) authz.Decision {
	var by *grant
	errs := z.visit(a.User, a.Namespace, func(g *grant, rule *rbacv1.PolicyRule) bool {
		if RuleAllows(a, rule) {
			by = g
			return false
		}
		return true
	})
	if by != nil {
		return authz.Decision{Allowed: true, Reason: "RBAC: allowed by " + by.String()}
	}
	if len(errs) > 0 {
		return authz.Decision{Reason: "RBAC: " + utilerrors.NewAggregate(errs).Error()}
	}
	return authz.Decision{}
}

// RulesFor lists the rules u holds in namespace ns (cluster-wide ones
// only when ns is empty), as SelfSubjectRulesReview shows them. A binding
// whose role cannot be found makes the list incomplete; PolicyRules gives
// the error itself.
func (z *Authorizer) RulesFor(_ context.Context, u authn.User, ns string) (resource, nonResource []authz.Rule, incomplete bool) {
	rules, err := z.PolicyRules(u, ns)
	for _, r := range rules {
		if len(r.Resources) > 0 {
			resource = append(resource, authz.Rule{Verbs: r.Verbs, APIGroups: r.APIGroups, Resources: r.Resources,
				ResourceNames: r.ResourceNames})
		}
		if len(r.NonResourceURLs) > 0 {
			nonResource = append(nonResource, authz.Rule{Verbs: r.Verbs, NonResourceURLs: r.NonResourceURLs})
		}
	}
	return resource, nonResource, err != nil
}

// PolicyRules returns every rule bound to u in namespace ns: those of
// ClusterRoleBindings, then, when ns is set, those of the RoleBindings of
// ns. A non-nil error names the bindings that could not be resolved; the
// rules returned are still held (rules only ever add), so callers may act
// on them.
func (z *Authorizer) PolicyRules(u authn.User, ns string) ([]rbacv1.PolicyRule, error) {
	var rules []rbacv1.PolicyRule
	errs := z.visit(u, ns, func(_ *grant, rule *rbacv1.PolicyRule) bool {
		rules = append(rules, *rule)
		return true
	})
	return rules, utilerrors.NewAggregate(errs)
}

// RoleRefRules returns the rules of the role a binding in namespace ns
// (empty for a ClusterRoleBinding) refers to. A missing role is a
// NotFound API error.
func (z *Authorizer) RoleRefRules(ref rbacv1.RoleRef, ns string) ([]rbacv1.PolicyRule, error) {
	switch ref.Kind {
	case "Role":
		if ns == "" {
			return nil, errors.New("a Role can only be referred to from a namespace")
		}
		r, err := z.cfg.Roles.Roles(ns).Get(ref.Name)
		if err != nil {
			return nil, err
		}
		return r.Rules, nil
	case "ClusterRole":
		r, err := z.cfg.ClusterRoles.Get(ref.Name)
		if err != nil {
			return nil, err
		}
		return r.Rules, nil
	}
	return nil, fmt.Errorf("unsupported role reference kind: %q", ref.Kind)
}

// grant says where a rule comes from: a binding and the subject of it
// that matched.
type grant struct {
	// kind is ClusterRoleBinding or RoleBinding.
	kind, name, namespace string
	roleRef               rbacv1.RoleRef
	subject               rbacv1.Subject
}

// String describes the grant as upstream's authorizer does in its
// reasons: `ClusterRoleBinding "x" of ClusterRole "y" to Group "z"`, with
// namespaced names written name/namespace.
func (g *grant) String() string {
	name := g.name
	if g.namespace != "" {
		name += "/" + g.namespace
	}
	subject := g.subject.Name
	if g.subject.Kind == rbacv1.ServiceAccountKind {
		subject += "/" + cmp.Or(g.subject.Namespace, g.namespace)
	}
	return fmt.Sprintf("%s %q of %s %q to %s %q", g.kind, name, g.roleRef.Kind, g.roleRef.Name, g.subject.Kind, subject)
}

// visit calls fn with each rule bound to u in ns until fn returns false,
// and returns the errors met on the way (unreadable listers, missing
// roles). Bindings are visited by name, ClusterRoleBindings first, so
// reasons and rule lists do not change from one call to the next.
func (z *Authorizer) visit(u authn.User, ns string, fn func(*grant, *rbacv1.PolicyRule) bool) []error {
	var errs []error
	crbs, err := z.cfg.ClusterRoleBindings.List(labels.Everything())
	if err != nil {
		errs = append(errs, err)
	}
	slices.SortFunc(crbs, func(a, b *rbacv1.ClusterRoleBinding) int { return cmp.Compare(a.Name, b.Name) })
	for _, b := range crbs {
		i := matchingSubject(u, b.Subjects, "")
		if i < 0 {
			continue
		}
		rules, err := z.RoleRefRules(b.RoleRef, "")
		if err != nil {
			errs = append(errs, err)
			continue
		}
		g := &grant{kind: "ClusterRoleBinding", name: b.Name, roleRef: b.RoleRef, subject: b.Subjects[i]}
		for j := range rules {
			if !fn(g, &rules[j]) {
				return errs
			}
		}
	}
	if ns == "" {
		return errs
	}
	rbs, err := z.cfg.RoleBindings.RoleBindings(ns).List(labels.Everything())
	if err != nil {
		errs = append(errs, err)
	}
	slices.SortFunc(rbs, func(a, b *rbacv1.RoleBinding) int { return cmp.Compare(a.Name, b.Name) })
	for _, b := range rbs {
		i := matchingSubject(u, b.Subjects, ns)
		if i < 0 {
			continue
		}
		rules, err := z.RoleRefRules(b.RoleRef, ns)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		g := &grant{kind: "RoleBinding", name: b.Name, namespace: ns, roleRef: b.RoleRef, subject: b.Subjects[i]}
		for j := range rules {
			if !fn(g, &rules[j]) {
				return errs
			}
		}
	}
	return errs
}

// matchingSubject returns the index of the first subject u is, or -1. A
// ServiceAccount subject without a namespace means one of the binding's
// namespace ns.
func matchingSubject(u authn.User, subjects []rbacv1.Subject, ns string) int {
	return slices.IndexFunc(subjects, func(s rbacv1.Subject) bool {
		switch s.Kind {
		case rbacv1.UserKind:
			return u.Name == s.Name
		case rbacv1.GroupKind:
			return slices.Contains(u.Groups, s.Name)
		case rbacv1.ServiceAccountKind:
			saNamespace := cmp.Or(s.Namespace, ns)
			return saNamespace != "" && u.Name == serviceAccountPrefix+saNamespace+":"+s.Name
		}
		return false
	})
}

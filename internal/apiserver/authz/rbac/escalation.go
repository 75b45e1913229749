package rbac

import (
	"context"
	"errors"
	"fmt"
	"slices"

	rbacv1 "k8s.io/api/rbac/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/component-helpers/auth/rbac/validation"

	"github.com/svcnet/svcnet/internal/apiserver/authn"
	"github.com/svcnet/svcnet/internal/apiserver/authz"
	"github.com/svcnet/svcnet/internal/registry"
)

// PrivilegedGroup is the group whose members may grant anything, as
// upstream hard-codes it for RBAC writes.
const PrivilegedGroup = "system:masters"

// RuleResolver finds the rules held through RBAC; *Authorizer is one.
type RuleResolver interface {
	// PolicyRules returns the rules u holds in namespace ns (cluster-wide
	// only when ns is empty); with an error, those it could resolve.
	PolicyRules(u authn.User, ns string) ([]rbacv1.PolicyRule, error)
	// RoleRefRules returns the rules of the role a binding in ns refers to.
	RoleRefRules(ref rbacv1.RoleRef, ns string) ([]rbacv1.PolicyRule, error)
}

// fullAuthority is what a ClusterRole's aggregationRule needs, since it
// can gather any rule: everything, as cluster-admin holds it.
func fullAuthority() []rbacv1.PolicyRule {
	return []rbacv1.PolicyRule{
		{Verbs: []string{rbacv1.VerbAll}, APIGroups: []string{rbacv1.APIGroupAll}, Resources: []string{rbacv1.ResourceAll}},
		{Verbs: []string{rbacv1.VerbAll}, NonResourceURLs: []string{rbacv1.NonResourceAll}},
	}
}

// EscalationCheck returns the admission function that refuses, with 403
// Forbidden, creates and updates of rbac.authorization.k8s.io objects that
// would grant more than the requesting user holds, as upstream's RBAC
// storage does:
//
//   - a Role or ClusterRole needs every one of its rules held by the user
//     (in the Role's namespace, cluster-wide for a ClusterRole), or the
//     escalate verb on it; an aggregationRule (on the new or the old
//     ClusterRole) needs escalate or everything (`*` on `*.*` and on every
//     URL), since it can gather any rule;
//   - a RoleBinding or ClusterRoleBinding needs the bind verb on the role
//     it refers to (asked in the binding's namespace, "" for a
//     ClusterRoleBinding), or every rule of that role held; a missing role
//     is 404.
//
// Members of system:masters, requests without a user (the server itself),
// and updates that only change ownerReferences or finalizers (the garbage
// collector's) pass. a is asked about escalate and bind; rules finds what
// the user holds.
func EscalationCheck(a authz.Authorizer, rules RuleResolver) registry.AdmitFunc {
	c := escalationCheck{a: a, rules: rules}
	return c.admit
}

type escalationCheck struct {
	a     authz.Authorizer
	rules RuleResolver
}

func (c escalationCheck) admit(ctx context.Context, attrs *registry.AdmissionAttributes) error {
	if attrs.Resource.Group != rbacv1.GroupName || attrs.Subresource != "" ||
		(attrs.Operation != registry.Create && attrs.Operation != registry.Update) {
		return nil
	}
	u, ok := authn.FromContext(ctx)
	if !ok || privileged(u) {
		return nil
	}
	if attrs.Operation == registry.Update && onlyGCFieldsChange(attrs.Object, attrs.OldObject) {
		return nil
	}
	gr := attrs.Resource.GroupResource()
	switch obj := attrs.Object.(type) {
	case *rbacv1.Role:
		if c.allowed(ctx, u, "escalate", attrs.Resource, attrs.Namespace, attrs.Name) {
			return nil
		}
		return c.confirmHeld(u, attrs.Namespace, obj.Rules, gr, attrs.Name)
	case *rbacv1.ClusterRole:
		if c.allowed(ctx, u, "escalate", attrs.Resource, "", attrs.Name) {
			return nil
		}
		if err := c.confirmHeld(u, "", obj.Rules, gr, attrs.Name); err != nil {
			return err
		}
		old, _ := attrs.OldObject.(*rbacv1.ClusterRole)
		if aggregated(obj) || (old != nil && aggregated(old)) {
			if err := c.confirmHeld(u, "", fullAuthority(), gr, attrs.Name); err != nil {
				return apierrors.NewForbidden(gr, attrs.Name,
					errors.New("must have cluster-admin privileges to use the aggregationRule"))
			}
		}
		return nil
	case *rbacv1.RoleBinding:
		return c.confirmBind(ctx, u, obj.RoleRef, attrs.Namespace, gr, attrs.Name)
	case *rbacv1.ClusterRoleBinding:
		return c.confirmBind(ctx, u, obj.RoleRef, "", gr, attrs.Name)
	}
	return nil
}

// allowed asks the authorizer whether u may verb the named RBAC object.
func (c escalationCheck) allowed(ctx context.Context, u authn.User, verb string, gvr schema.GroupVersionResource, ns, name string) bool {
	return c.a.Authorize(ctx, authz.Attributes{User: u, Verb: verb, ResourceRequest: true, Namespace: ns,
		Group: gvr.Group, Version: gvr.Version, Resource: gvr.Resource, Name: name}).Allowed
}

// confirmBind lets a binding to ref in ns through when u may bind the role
// or already holds all of it.
func (c escalationCheck) confirmBind(ctx context.Context, u authn.User, ref rbacv1.RoleRef, ns string, gr schema.GroupResource, name string) error {
	var roles schema.GroupVersionResource
	switch ref.Kind {
	case "Role":
		roles = rbacv1.SchemeGroupVersion.WithResource("roles")
	case "ClusterRole":
		roles = rbacv1.SchemeGroupVersion.WithResource("clusterroles")
	default:
		return apierrors.NewForbidden(gr, name, fmt.Errorf("unsupported role reference kind: %q", ref.Kind))
	}
	roles.Group = ref.APIGroup
	if c.allowed(ctx, u, "bind", roles, ns, ref.Name) {
		return nil
	}
	rules, err := c.rules.RoleRefRules(ref, ns)
	if apierrors.IsNotFound(err) {
		return apierrors.NewNotFound(schema.GroupResource{Group: rbacv1.GroupName, Resource: roles.Resource}, ref.Name)
	}
	if err != nil {
		return apierrors.NewInternalError(fmt.Errorf("resolving %s %q: %w", ref.Kind, ref.Name, err))
	}
	return c.confirmHeld(u, ns, rules, gr, name)
}

// confirmHeld returns 403 on the object gr/name unless u holds every rule
// of want in ns, listing the rules missing.
func (c escalationCheck) confirmHeld(u authn.User, ns string, want []rbacv1.PolicyRule, gr schema.GroupResource, name string) error {
	held, resolveErr := c.rules.PolicyRules(u, ns)
	covered, missing := validation.Covers(held, want)
	if covered {
		return nil
	}
	msg := fmt.Sprintf("user %q (groups=%q) is attempting to grant RBAC permissions not currently held:\n%s",
		u.Name, u.Groups, describeRules(missing))
	if resolveErr != nil {
		msg += fmt.Sprintf("; resolution errors: %v", resolveErr)
	}
	return apierrors.NewForbidden(gr, name, errors.New(msg))
}

func privileged(u authn.User) bool { return slices.Contains(u.Groups, PrivilegedGroup) }

func aggregated(r *rbacv1.ClusterRole) bool {
	return r.AggregationRule != nil && len(r.AggregationRule.ClusterRoleSelectors) > 0
}

// onlyGCFieldsChange reports whether obj differs from old in nothing but
// ownerReferences, finalizers and the fields the server itself keeps
// (resourceVersion, generation, managedFields): writes the garbage
// collector makes, which grant nothing.
func onlyGCFieldsChange(obj, old runtime.Object) bool {
	if obj == nil || old == nil {
		return false
	}
	cp := obj.DeepCopyObject()
	m, err1 := meta.Accessor(cp)
	o, err2 := meta.Accessor(old)
	if err1 != nil || err2 != nil {
		return false
	}
	m.SetOwnerReferences(o.GetOwnerReferences())
	m.SetFinalizers(o.GetFinalizers())
	m.SetResourceVersion(o.GetResourceVersion())
	m.SetGeneration(o.GetGeneration())
	m.SetManagedFields(o.GetManagedFields())
	m.SetSelfLink(o.GetSelfLink())
	return apiequality.Semantic.DeepEqual(cp, old)
}

package rbac

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/svcnet/svcnet/internal/apiserver/authn"
	"github.com/svcnet/svcnet/internal/registry"
)

func TestEscalationCheck(t *testing.T) {
	all := list("*")
	z := newAuthorizer(t,
		clusterRole("cluster-admin", rule(all, all, all), urlRule(all, "*")),
		clusterRole("pod-admin", rule(all, list(""), list("pods"))),
		clusterRole("secret-admin", rule(all, list(""), list("secrets"))),
		clusterRole("escalator", rule(list("escalate"), list(rbacv1.GroupName), list("roles", "clusterroles"))),
		clusterRole("pod-admin-binder", rule(list("bind"), list(rbacv1.GroupName), list("clusterroles"), "pod-admin")),
		role("team", "deployer", rule(list("get", "create"), list("apps"), list("deployments"))),
		binding("team", "lead-pods", "ClusterRole", "pod-admin", user("lead")),
		binding("team", "lead-deployer", "Role", "deployer", user("lead")),
		clusterBinding("escalator", "escalator", user("escalator")),
		clusterBinding("binder", "pod-admin-binder", user("binder")),
		clusterBinding("admins", "cluster-admin", group("admins")),
	)
	admit := EscalationCheck(z, z)

	lead := authn.User{Name: "lead", Groups: []string{authn.GroupAuthenticated}}
	meta := func(ns, name string) metav1.ObjectMeta { return metav1.ObjectMeta{Namespace: ns, Name: name} }
	newRole := func(ns string, rules ...rbacv1.PolicyRule) *rbacv1.Role {
		return &rbacv1.Role{ObjectMeta: meta(ns, "r"), Rules: rules}
	}
	newClusterRole := func(rules ...rbacv1.PolicyRule) *rbacv1.ClusterRole {
		return &rbacv1.ClusterRole{ObjectMeta: meta("", "cr"), Rules: rules}
	}
	aggregatedRole := &rbacv1.ClusterRole{ObjectMeta: meta("", "cr"), AggregationRule: &rbacv1.AggregationRule{
		ClusterRoleSelectors: []metav1.LabelSelector{{MatchLabels: map[string]string{"example.com/aggregate": "true"}}}}}
	newBinding := func(kind, role string) *rbacv1.RoleBinding {
		return &rbacv1.RoleBinding{ObjectMeta: meta("team", "rb"), Subjects: []rbacv1.Subject{user("someone")},
			RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: kind, Name: role}}
	}
	newClusterBinding := func(role string) *rbacv1.ClusterRoleBinding {
		return &rbacv1.ClusterRoleBinding{ObjectMeta: meta("", "crb"), Subjects: []rbacv1.Subject{user("someone")},
			RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role}}
	}
	withFinalizer := func(o runtime.Object) runtime.Object {
		o = o.DeepCopyObject()
		o.(metav1.Object).SetFinalizers([]string{"example.com/hold"})
		o.(metav1.Object).SetResourceVersion("2")
		return o
	}
	podsRule := rule(list("get", "list"), list(""), list("pods"))
	secretsRule := rule(list("get"), list(""), list("secrets"))

	const (
		allowed   = ""
		forbidden = "forbidden"
		notFound  = "not found"
	)
	for _, tc := range []struct {
		name      string
		user      *authn.User
		op        registry.Operation
		resource  string
		obj, old  runtime.Object
		want      string
		wantError string
	}{
		{name: "Role with rules held in its namespace", user: &lead, resource: "roles",
			obj: newRole("team", podsRule, rule(list("get"), list("apps"), list("deployments")))},
		{name: "Role with rules held elsewhere only", user: &lead, resource: "roles", obj: newRole("other", podsRule),
			want: forbidden, wantError: `roles.rbac.authorization.k8s.io "r" is forbidden: user "lead" (groups=["system:authenticated"]) ` +
				"is attempting to grant RBAC permissions not currently held:\n" +
				`{APIGroups:[""], Resources:["pods"], Verbs:["get" "list"]}`},
		{name: "Role with a rule not held: the missing ones listed", user: &lead, resource: "roles",
			obj:  newRole("team", podsRule, secretsRule, rule(list("delete", "get"), list("apps"), list("deployments"))),
			want: forbidden, wantError: `roles.rbac.authorization.k8s.io "r" is forbidden: user "lead" (groups=["system:authenticated"]) ` +
				"is attempting to grant RBAC permissions not currently held:\n" +
				`{APIGroups:[""], Resources:["secrets"], Verbs:["get"]}` + "\n" +
				`{APIGroups:["apps"], Resources:["deployments"], Verbs:["delete"]}`},
		{name: "Role update is checked too", user: &lead, op: registry.Update, resource: "roles",
			obj: newRole("team", podsRule, secretsRule), old: newRole("team", podsRule), want: forbidden},
		{name: "ClusterRole needs cluster-wide rules", user: &lead, resource: "clusterroles", obj: newClusterRole(podsRule),
			want: forbidden, wantError: `clusterroles.rbac.authorization.k8s.io "cr" is forbidden: user "lead" (groups=["system:authenticated"]) ` +
				"is attempting to grant RBAC permissions not currently held:\n" +
				`{APIGroups:[""], Resources:["pods"], Verbs:["get" "list"]}`},
		{name: "escalate allows any Role", user: &authn.User{Name: "escalator"}, resource: "roles",
			obj: newRole("team", secretsRule)},
		{name: "escalate allows any ClusterRole, aggregated too", user: &authn.User{Name: "escalator"}, resource: "clusterroles",
			obj: aggregatedRole},
		{name: "aggregationRule needs everything", user: &lead, resource: "clusterroles", obj: aggregatedRole,
			want: forbidden, wantError: `clusterroles.rbac.authorization.k8s.io "cr" is forbidden: must have cluster-admin privileges to use the aggregationRule`},
		{name: "dropping an aggregationRule needs everything", user: &lead, op: registry.Update, resource: "clusterroles",
			obj: newClusterRole(), old: aggregatedRole, want: forbidden},
		{name: "cluster-admin may aggregate", user: &authn.User{Name: "root", Groups: []string{"admins"}},
			resource: "clusterroles", obj: aggregatedRole},
		{name: "RoleBinding to a ClusterRole held in the namespace", user: &lead, resource: "rolebindings",
			obj: newBinding("ClusterRole", "pod-admin")},
		{name: "RoleBinding to a Role held", user: &lead, resource: "rolebindings", obj: newBinding("Role", "deployer")},
		{name: "RoleBinding to a ClusterRole not held", user: &lead, resource: "rolebindings",
			obj:  newBinding("ClusterRole", "secret-admin"),
			want: forbidden, wantError: `rolebindings.rbac.authorization.k8s.io "rb" is forbidden: user "lead" (groups=["system:authenticated"]) ` +
				"is attempting to grant RBAC permissions not currently held:\n" +
				`{APIGroups:[""], Resources:["secrets"], Verbs:["*"]}`},
		{name: "ClusterRoleBinding needs the rules cluster-wide", user: &lead, resource: "clusterrolebindings",
			obj: newClusterBinding("pod-admin"), want: forbidden},
		{name: "bind allows the named ClusterRole", user: &authn.User{Name: "binder"}, resource: "clusterrolebindings",
			obj: newClusterBinding("pod-admin")},
		{name: "bind allows it in a RoleBinding too", user: &authn.User{Name: "binder"}, resource: "rolebindings",
			obj: newBinding("ClusterRole", "pod-admin")},
		{name: "bind of one role is not bind of another", user: &authn.User{Name: "binder"}, resource: "clusterrolebindings",
			obj: newClusterBinding("secret-admin"), want: forbidden},
		{name: "binding to a missing role", user: &lead, resource: "rolebindings", obj: newBinding("Role", "gone"),
			want: notFound},
		{name: "system:masters may do anything", user: &authn.User{Name: "admin", Groups: []string{"system:masters"}},
			resource: "clusterrolebindings", obj: newClusterBinding("secret-admin")},
		{name: "no user: the server itself", resource: "clusterroles", obj: aggregatedRole},
		{name: "only finalizers change", user: &lead, op: registry.Update, resource: "clusterrolebindings",
			obj: withFinalizer(newClusterBinding("secret-admin")), old: newClusterBinding("secret-admin")},
		{name: "delete is not checked", user: &lead, op: registry.Delete, resource: "clusterrolebindings",
			old: newClusterBinding("secret-admin")},
		{name: "other groups are not checked", user: &lead, resource: "pods", obj: &corev1.Pod{ObjectMeta: meta("other", "p")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			if tc.user != nil {
				ctx = authn.WithUser(ctx, *tc.user)
			}
			attrs := &registry.AdmissionAttributes{Operation: tc.op, Object: tc.obj, OldObject: tc.old}
			if attrs.Operation == "" {
				attrs.Operation = registry.Create
			}
			attrs.Resource = rbacv1.SchemeGroupVersion.WithResource(tc.resource)
			if tc.resource == "pods" {
				attrs.Resource = corev1.SchemeGroupVersion.WithResource("pods")
			}
			for _, o := range []runtime.Object{tc.obj, tc.old} {
				if m, ok := o.(metav1.Object); ok {
					attrs.Namespace, attrs.Name = m.GetNamespace(), m.GetName()
					break
				}
			}
			err := admit(ctx, attrs)
			switch tc.want {
			case allowed:
				if err != nil {
					t.Fatalf("got %v, want allowed", err)
				}
			case forbidden:
				if !apierrors.IsForbidden(err) {
					t.Fatalf("got %v, want 403 Forbidden", err)
				}
			case notFound:
				if !apierrors.IsNotFound(err) {
					t.Fatalf("got %v, want 404 Not Found", err)
				}
			}
			if tc.wantError != "" && err.Error() != tc.wantError {
				t.Errorf("got message\n%s\nwant\n%s", err, tc.wantError)
			}
		})
	}
}

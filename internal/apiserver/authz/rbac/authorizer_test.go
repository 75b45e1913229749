package rbac

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/svcnet/svcnet/internal/apiserver/authn"
	"github.com/svcnet/svcnet/internal/apiserver/authz"
)

// policy is the RBAC state the authorizer tests share.
func policy() []runtime.Object {
	read := list("get", "list", "watch")
	return []runtime.Object{
		clusterRole("pod-reader", rule(read, list(""), list("pods", "pods/log"))),
		clusterRole("health", urlRule(list("get"), "/healthz", "/apis/*")),
		clusterRole("scaler", rule(list("update"), list("apps"), list("*/scale"))),
		role("team", "secret-reader", rule(list("get"), list(""), list("secrets"))),
		role("team", "config-reader", rule(list("get"), list(""), list("configmaps"), "app-config")),
		role("other", "secret-reader", rule(list("get", "list"), list(""), list("secrets"))),

		clusterBinding("readers", "pod-reader", group("devs")),
		clusterBinding("health", "health", group(authn.GroupAuthenticated)),
		clusterBinding("deployer-scales", "scaler", serviceAccount("ci", "deployer")),
		clusterBinding("dangling", "gone", user("carol")),
		binding("team", "bob-secrets", "Role", "secret-reader", user("bob")),
		binding("team", "bob-config", "Role", "config-reader", user("bob")),
		// A ClusterRole bound in a namespace grants it there only; a
		// ServiceAccount without namespace is one of the binding's.
		binding("team", "builder-pods", "ClusterRole", "pod-reader", serviceAccount("", "builder")),
		binding("team", "dangling", "Role", "gone", user("dave")),
	}
}

func TestAuthorize(t *testing.T) {
	z := newAuthorizer(t, policy()...)
	res := func(u authn.User, verb, ns, group, resource, sub, name string) authz.Attributes {
		return authz.Attributes{User: u, ResourceRequest: true, Verb: verb, Namespace: ns, Group: group,
			Resource: resource, Subresource: sub, Name: name}
	}
	alice := authn.User{Name: "alice", Groups: []string{"devs", authn.GroupAuthenticated}}
	bob := authn.User{Name: "bob", Groups: []string{authn.GroupAuthenticated}}
	builder := authn.User{Name: "system:serviceaccount:team:builder"}
	otherBuilder := authn.User{Name: "system:serviceaccount:other:builder"}
	deployer := authn.User{Name: "system:serviceaccount:ci:deployer"}
	for _, tc := range []struct {
		name string
		req  authz.Attributes
		want authz.Decision
	}{
		{"group through a ClusterRoleBinding, any namespace", res(alice, "get", "anywhere", "", "pods", "", "web"),
			authz.Decision{Allowed: true, Reason: `RBAC: allowed by ClusterRoleBinding "readers" of ClusterRole "pod-reader" to Group "devs"`}},
		{"ClusterRoleBinding applies cluster-wide", res(alice, "list", "", "", "pods", "", ""),
			authz.Decision{Allowed: true, Reason: `RBAC: allowed by ClusterRoleBinding "readers" of ClusterRole "pod-reader" to Group "devs"`}},
		{"subresource listed", res(alice, "get", "team", "", "pods", "log", "web"),
			authz.Decision{Allowed: true, Reason: `RBAC: allowed by ClusterRoleBinding "readers" of ClusterRole "pod-reader" to Group "devs"`}},
		{"subresource not listed", res(alice, "create", "team", "", "pods", "exec", "web"), authz.Decision{}},
		{"verb not granted", res(alice, "delete", "team", "", "pods", "", "web"), authz.Decision{}},
		{"user through a RoleBinding of a Role", res(bob, "get", "team", "", "secrets", "", "db"),
			authz.Decision{Allowed: true, Reason: `RBAC: allowed by RoleBinding "bob-secrets/team" of Role "secret-reader" to User "bob"`}},
		{"RoleBinding not in another namespace", res(bob, "get", "other", "", "secrets", "", "db"), authz.Decision{}},
		{"RoleBinding not cluster-wide", res(bob, "get", "", "", "secrets", "", "db"), authz.Decision{}},
		{"resourceNames: named", res(bob, "get", "team", "", "configmaps", "", "app-config"),
			authz.Decision{Allowed: true, Reason: `RBAC: allowed by RoleBinding "bob-config/team" of Role "config-reader" to User "bob"`}},
		{"resourceNames: other name", res(bob, "get", "team", "", "configmaps", "", "other"), authz.Decision{}},
		{"ServiceAccount of the binding's namespace", res(builder, "watch", "team", "", "pods", "", ""),
			authz.Decision{Allowed: true, Reason: `RBAC: allowed by RoleBinding "builder-pods/team" of ClusterRole "pod-reader" to ServiceAccount "builder/team"`}},
		{"ClusterRole bound in a namespace stays there", res(builder, "watch", "other", "", "pods", "", ""), authz.Decision{}},
		{"same ServiceAccount name, other namespace", res(otherBuilder, "watch", "team", "", "pods", "", ""), authz.Decision{}},
		{"ServiceAccount through a ClusterRoleBinding, */scale", res(deployer, "update", "prod", "apps", "deployments", "scale", "web"),
			authz.Decision{Allowed: true, Reason: `RBAC: allowed by ClusterRoleBinding "deployer-scales" of ClusterRole "scaler" to ServiceAccount "deployer/ci"`}},
		{"non-resource URL exact", authz.Attributes{User: bob, Verb: "get", Path: "/healthz"},
			authz.Decision{Allowed: true, Reason: `RBAC: allowed by ClusterRoleBinding "health" of ClusterRole "health" to Group "system:authenticated"`}},
		{"non-resource URL prefix", authz.Attributes{User: bob, Verb: "get", Path: "/apis/apps/v1"},
			authz.Decision{Allowed: true, Reason: `RBAC: allowed by ClusterRoleBinding "health" of ClusterRole "health" to Group "system:authenticated"`}},
		{"non-resource URL not listed", authz.Attributes{User: bob, Verb: "get", Path: "/metrics"}, authz.Decision{}},
		{"RoleBindings never grant URLs", authz.Attributes{User: builder, Verb: "get", Path: "/healthz"}, authz.Decision{}},
		{"missing ClusterRole: no opinion, says why",
			res(authn.User{Name: "carol"}, "get", "team", "", "pods", "", ""),
			authz.Decision{Reason: `RBAC: clusterrole.rbac.authorization.k8s.io "gone" not found`}},
		{"missing Role: no opinion, says why",
			res(authn.User{Name: "dave"}, "get", "team", "", "pods", "", ""),
			authz.Decision{Reason: `RBAC: role.rbac.authorization.k8s.io "gone" not found`}},
		{"missing role does not hide others",
			res(authn.User{Name: "dave", Groups: []string{"devs"}}, "get", "team", "", "pods", "", ""),
			authz.Decision{Allowed: true, Reason: `RBAC: allowed by ClusterRoleBinding "readers" of ClusterRole "pod-reader" to Group "devs"`}},
		{"nobody", res(authn.User{Name: "eve"}, "get", "team", "", "pods", "", ""), authz.Decision{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, z.Authorize(context.Background(), tc.req)); diff != "" {
				t.Errorf("decision (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRulesFor(t *testing.T) {
	z := newAuthorizer(t, policy()...)
	read := list("get", "list", "watch")
	for _, tc := range []struct {
		name                     string
		user                     authn.User
		ns                       string
		wantResource, wantNonRes []authz.Rule
		wantIncomplete           bool
	}{
		{"cluster and namespace rules", authn.User{Name: "bob", Groups: []string{"devs", authn.GroupAuthenticated}}, "team",
			[]authz.Rule{
				{Verbs: read, APIGroups: list(""), Resources: list("pods", "pods/log")},
				{Verbs: list("get"), APIGroups: list(""), Resources: list("configmaps"), ResourceNames: list("app-config")},
				{Verbs: list("get"), APIGroups: list(""), Resources: list("secrets")},
			},
			[]authz.Rule{{Verbs: list("get"), NonResourceURLs: list("/healthz", "/apis/*")}}, false},
		{"cluster rules only without a namespace", authn.User{Name: "bob", Groups: []string{"devs"}}, "",
			[]authz.Rule{{Verbs: read, APIGroups: list(""), Resources: list("pods", "pods/log")}}, nil, false},
		{"missing role: incomplete", authn.User{Name: "dave", Groups: []string{"devs"}}, "team",
			[]authz.Rule{{Verbs: read, APIGroups: list(""), Resources: list("pods", "pods/log")}}, nil, true},
		{"nothing", authn.User{Name: "eve"}, "team", nil, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, nonRes, incomplete := z.RulesFor(context.Background(), tc.user, tc.ns)
			if diff := cmp.Diff(tc.wantResource, res); diff != "" {
				t.Errorf("resource rules (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantNonRes, nonRes); diff != "" {
				t.Errorf("non-resource rules (-want +got):\n%s", diff)
			}
			if incomplete != tc.wantIncomplete {
				t.Errorf("got incomplete %v, want %v", incomplete, tc.wantIncomplete)
			}
		})
	}
}

func TestRoleRefRules(t *testing.T) {
	z := newAuthorizer(t, policy()...)
	for _, tc := range []struct {
		name    string
		ref     rbacv1.RoleRef
		ns      string
		want    []rbacv1.PolicyRule
		wantErr bool
	}{
		{"ClusterRole", rbacv1.RoleRef{Kind: "ClusterRole", Name: "scaler"}, "",
			[]rbacv1.PolicyRule{rule(list("update"), list("apps"), list("*/scale"))}, false},
		{"Role of the namespace", rbacv1.RoleRef{Kind: "Role", Name: "secret-reader"}, "other",
			[]rbacv1.PolicyRule{rule(list("get", "list"), list(""), list("secrets"))}, false},
		{"Role outside a namespace", rbacv1.RoleRef{Kind: "Role", Name: "secret-reader"}, "", nil, true},
		{"missing", rbacv1.RoleRef{Kind: "ClusterRole", Name: "gone"}, "", nil, true},
		{"unknown kind", rbacv1.RoleRef{Kind: "Group", Name: "x"}, "team", nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := z.RoleRefRules(tc.ref, tc.ns)
			if (err != nil) != tc.wantErr {
				t.Fatalf("got error %v, want error %v", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("rules (-want +got):\n%s", diff)
			}
		})
	}
}

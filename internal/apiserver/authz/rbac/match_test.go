package rbac

import (
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/svcnet/svcnet/internal/apiserver/authz"
)

func TestRuleAllows(t *testing.T) {
	res := func(verb, group, resource, sub, name string) authz.Attributes {
		return authz.Attributes{ResourceRequest: true, Verb: verb, Group: group, Resource: resource, Subresource: sub,
			Name: name, Namespace: "default"}
	}
	url := func(verb, path string) authz.Attributes { return authz.Attributes{Verb: verb, Path: path} }
	all := list("*")
	for _, tc := range []struct {
		name string
		rule rbacv1.PolicyRule
		req  authz.Attributes
		want bool
	}{
		{"exact", rule(list("get"), list(""), list("pods")), res("get", "", "pods", "", "web"), true},
		{"other verb", rule(list("get"), list(""), list("pods")), res("delete", "", "pods", "", "web"), false},
		{"verb wildcard", rule(all, list(""), list("pods")), res("deletecollection", "", "pods", "", ""), true},
		{"other group", rule(list("get"), list(""), list("deployments")), res("get", "apps", "deployments", "", ""), false},
		{"group wildcard", rule(list("get"), all, list("deployments")), res("get", "apps", "deployments", "", ""), true},
		{"resource wildcard", rule(list("get"), list("apps"), all), res("get", "apps", "deployments", "scale", ""), true},
		{"resource does not cover its subresource", rule(list("get"), list(""), list("pods")),
			res("get", "", "pods", "log", "web"), false},
		{"resource/subresource", rule(list("get"), list(""), list("pods/log")), res("get", "", "pods", "log", "web"), true},
		{"resource/subresource does not cover the resource", rule(list("get"), list(""), list("pods/log")),
			res("get", "", "pods", "", "web"), false},
		{"*/subresource", rule(list("update"), list("apps"), list("*/scale")),
			res("update", "apps", "deployments", "scale", "web"), true},
		{"*/subresource needs a subresource", rule(list("update"), list("apps"), list("*/scale")),
			res("update", "apps", "deployments", "", "web"), false},
		{"resource/* is no wildcard", rule(list("get"), list(""), list("pods/*")), res("get", "", "pods", "log", "web"), false},
		{"resourceNames match", rule(list("get"), list(""), list("configmaps"), "app-config"),
			res("get", "", "configmaps", "", "app-config"), true},
		{"resourceNames other name", rule(list("get"), list(""), list("configmaps"), "app-config"),
			res("get", "", "configmaps", "", "other"), false},
		{"resourceNames refuse unnamed list", rule(list("list"), list(""), list("configmaps"), "app-config"),
			res("list", "", "configmaps", "", ""), false},
		{"resource rule never allows a URL", rule(all, all, all), url("get", "/healthz"), false},
		{"URL exact", urlRule(list("get"), "/healthz"), url("get", "/healthz"), true},
		{"URL exact only", urlRule(list("get"), "/healthz"), url("get", "/healthz/etcd"), false},
		{"URL prefix", urlRule(list("get"), "/apis/*"), url("get", "/apis/apps/v1"), true},
		{"URL prefix is a plain prefix", urlRule(list("get"), "/version*"), url("get", "/versionx"), true},
		{"URL prefix needs the prefix", urlRule(list("get"), "/apis/*"), url("get", "/api/v1"), false},
		{"URL wildcard", urlRule(all, "*"), url("post", "/anything"), true},
		{"URL other verb", urlRule(list("get"), "/healthz"), url("post", "/healthz"), false},
		{"URL rule never allows a resource", urlRule(all, "*"), res("get", "", "pods", "", ""), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := RuleAllows(tc.req, &tc.rule); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

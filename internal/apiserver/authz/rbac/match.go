package rbac

import (
	"slices"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/svcnet/svcnet/internal/apiserver/authz"
)

// RuleAllows reports whether rule grants the request a, with upstream's
// matching: "*" matches every verb, API group and resource; a resource
// request for a subresource needs "resource/subresource" or
// "*/subresource" (plain "resource" does not cover its subresources, nor
// does "resource/*"); a rule with resourceNames only allows requests
// naming one of them (so never a list or create without a name); a
// non-resource URL matches exactly, or by prefix when the rule's URL ends
// in "*".
func RuleAllows(a authz.Attributes, rule *rbacv1.PolicyRule) bool {
	if !matchesOrAll(rule.Verbs, rbacv1.VerbAll, a.Verb) {
		return false
	}
	if !a.ResourceRequest {
		return urlMatches(rule.NonResourceURLs, a.Path)
	}
	return matchesOrAll(rule.APIGroups, rbacv1.APIGroupAll, a.Group) &&
		resourceMatches(rule.Resources, a.Resource, a.Subresource) &&
		nameMatches(rule.ResourceNames, a.Name)
}

// matchesOrAll reports whether set holds want or the wildcard all.
func matchesOrAll(set []string, all, want string) bool {
	return slices.ContainsFunc(set, func(s string) bool { return s == all || s == want })
}

func resourceMatches(set []string, resource, subresource string) bool {
	combined := resource
	if subresource != "" {
		combined += "/" + subresource
	}
	for _, s := range set {
		if s == rbacv1.ResourceAll || s == combined || (subresource != "" && s == "*/"+subresource) {
			return true
		}
	}
	return false
}

func nameMatches(names []string, name string) bool {
	return len(names) == 0 || slices.Contains(names, name)
}

func urlMatches(urls []string, path string) bool {
	for _, u := range urls {
		if u == rbacv1.NonResourceAll || u == path {
			return true
		}
		if strings.HasSuffix(u, "*") && strings.HasPrefix(path, strings.TrimRight(u, "*")) {
			return true
		}
	}
	return false
}

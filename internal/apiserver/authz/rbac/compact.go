package rbac

import (
	"fmt"
	"slices"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// compactRules merges rules that name one API group and one resource and
// nothing but verbs, as the broken-down rules of a coverage check are, so
// a message lists "pods: get, list" once instead of once per verb. Other
// rules pass through; the order of first appearance is kept.
func compactRules(rules []rbacv1.PolicyRule) []rbacv1.PolicyRule {
	out := make([]rbacv1.PolicyRule, 0, len(rules))
	simple := map[schema.GroupResource]int{}
	for _, r := range rules {
		isSimple := len(r.APIGroups) == 1 && len(r.Resources) == 1 && len(r.ResourceNames) == 0 && len(r.NonResourceURLs) == 0
		if !isSimple {
			out = append(out, *r.DeepCopy())
			continue
		}
		gr := schema.GroupResource{Group: r.APIGroups[0], Resource: r.Resources[0]}
		if i, ok := simple[gr]; ok {
			out[i].Verbs = append(out[i].Verbs, r.Verbs...)
			continue
		}
		simple[gr] = len(out)
		out = append(out, *r.DeepCopy())
	}
	return out
}

// compactString writes a rule the way upstream's escalation message does:
// `{APIGroups:["apps"], Resources:["deployments"], Verbs:["create"]}`,
// leaving out empty fields.
func compactString(r rbacv1.PolicyRule) string {
	var parts []string
	for _, f := range []struct {
		name   string
		values []string
	}{
		{"APIGroups", r.APIGroups}, {"Resources", r.Resources}, {"NonResourceURLs", r.NonResourceURLs},
		{"ResourceNames", r.ResourceNames}, {"Verbs", r.Verbs},
	} {
		if len(f.values) > 0 {
			parts = append(parts, fmt.Sprintf("%s:%q", f.name, f.values))
		}
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// describeRules returns the compacted rules, one per line, sorted and
// without duplicates.
func describeRules(rules []rbacv1.PolicyRule) string {
	var lines []string
	for _, r := range compactRules(rules) {
		lines = append(lines, compactString(r))
	}
	slices.Sort(lines)
	return strings.Join(slices.Compact(lines), "\n")
}

package nodeaffinity

import (
	"slices"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// Matches reports whether node satisfies pod's spec.nodeSelector and its
// requiredDuringSchedulingIgnoredDuringExecution node affinity.
func Matches(pod *corev1.Pod, node *corev1.Node) bool {
	if !labels.SelectorFromSet(pod.Spec.NodeSelector).Matches(labels.Set(node.Labels)) {
		return false
	}
	a := pod.Spec.Affinity
	if a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return true
	}
	return MatchesSelector(a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution, node)
}

// MatchesSelector reports whether one of sel's terms matches node.
func MatchesSelector(sel *corev1.NodeSelector, node *corev1.Node) bool {
	return slices.ContainsFunc(sel.NodeSelectorTerms, func(term corev1.NodeSelectorTerm) bool { return matchesTerm(term, node) })
}

func matchesTerm(term corev1.NodeSelectorTerm, node *corev1.Node) bool {
	if len(term.MatchExpressions) == 0 && len(term.MatchFields) == 0 {
		return false
	}
	for _, r := range term.MatchExpressions {
		v, has := node.Labels[r.Key]
		if !matchRequirement(r, v, has) {
			return false
		}
	}
	for _, r := range term.MatchFields {
		if r.Key != metav1.ObjectNameField || !matchRequirement(r, node.Name, true) {
			return false
		}
	}
	return true
}

// matchRequirement applies r to a node's value v (has: the label exists).
func matchRequirement(r corev1.NodeSelectorRequirement, v string, has bool) bool {
	compare := func(gt bool) bool {
		if !has || len(r.Values) != 1 {
			return false
		}
		a, err1 := strconv.ParseInt(v, 10, 64)
		b, err2 := strconv.ParseInt(r.Values[0], 10, 64)
		if err1 != nil || err2 != nil {
			return false
		}
		if gt {
			return a > b
		}
		return a < b
	}
	switch r.Operator {
	case corev1.NodeSelectorOpIn:
		return has && slices.Contains(r.Values, v)
	case corev1.NodeSelectorOpNotIn:
		return !has || !slices.Contains(r.Values, v)
	case corev1.NodeSelectorOpExists:
		return has
	case corev1.NodeSelectorOpDoesNotExist:
		return !has
	case corev1.NodeSelectorOpGt:
		return compare(true)
	case corev1.NodeSelectorOpLt:
		return compare(false)
	}
	return false
}

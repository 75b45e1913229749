package nodeaffinity

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func required(terms ...corev1.NodeSelectorTerm) *corev1.Affinity {
	return &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: terms}}}
}

func req(key string, op corev1.NodeSelectorOperator, values ...string) corev1.NodeSelectorRequirement {
	return corev1.NodeSelectorRequirement{Key: key, Operator: op, Values: values}
}

func TestMatches(t *testing.T) {
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node2", Labels: map[string]string{"disk": "ssd", "cores": "8"}}}
	for _, tc := range []struct {
		name     string
		selector map[string]string
		affinity *corev1.Affinity
		want     bool
	}{
		{name: "nothing required", want: true},
		{name: "node selector matches", selector: map[string]string{"disk": "ssd"}, want: true},
		{name: "node selector does not match", selector: map[string]string{"disk": "hdd"}},
		{name: "match fields name in", want: true,
			affinity: required(corev1.NodeSelectorTerm{MatchFields: []corev1.NodeSelectorRequirement{req("metadata.name", corev1.NodeSelectorOpIn, "node2")}})},
		{name: "match fields other name",
			affinity: required(corev1.NodeSelectorTerm{MatchFields: []corev1.NodeSelectorRequirement{req("metadata.name", corev1.NodeSelectorOpIn, "node1")}})},
		{name: "match fields name not in", want: true,
			affinity: required(corev1.NodeSelectorTerm{MatchFields: []corev1.NodeSelectorRequirement{req("metadata.name", corev1.NodeSelectorOpNotIn, "node1")}})},
		{name: "match fields unknown field",
			affinity: required(corev1.NodeSelectorTerm{MatchFields: []corev1.NodeSelectorRequirement{req("spec.podCIDR", corev1.NodeSelectorOpIn, "x")}})},
		{name: "fields and expressions are ANDed",
			affinity: required(corev1.NodeSelectorTerm{
				MatchExpressions: []corev1.NodeSelectorRequirement{req("disk", corev1.NodeSelectorOpIn, "hdd")},
				MatchFields:      []corev1.NodeSelectorRequirement{req("metadata.name", corev1.NodeSelectorOpIn, "node2")}})},
		{name: "terms are ORed", want: true,
			affinity: required(
				corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{req("disk", corev1.NodeSelectorOpIn, "hdd")}},
				corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{req("cores", corev1.NodeSelectorOpGt, "4")}})},
		{name: "empty term matches nothing", affinity: required(corev1.NodeSelectorTerm{})},
		{name: "no terms match nothing", affinity: required()},
		{name: "exists and does not exist", want: true,
			affinity: required(corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{
				req("disk", corev1.NodeSelectorOpExists), req("gpu", corev1.NodeSelectorOpDoesNotExist)}})},
		{name: "lt with a non-number",
			affinity: required(corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{req("disk", corev1.NodeSelectorOpLt, "3")}})},
		{name: "selector and affinity both needed",
			selector: map[string]string{"disk": "hdd"},
			affinity: required(corev1.NodeSelectorTerm{MatchFields: []corev1.NodeSelectorRequirement{req("metadata.name", corev1.NodeSelectorOpIn, "node2")}})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pod := &corev1.Pod{Spec: corev1.PodSpec{NodeSelector: tc.selector, Affinity: tc.affinity}}
			if got := Matches(pod, node); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

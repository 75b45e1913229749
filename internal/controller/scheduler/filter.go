package scheduler

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/svcnet/svcnet/internal/controller/nodeaffinity"
)

// Reasons a node is filtered out, worded as upstream's plugins.
const (
	reasonAffinity      = "node(s) didn't match Pod's node affinity/selector"
	reasonUnschedulable = "node(s) were unschedulable"
)

func untolerated(t corev1.Taint) string {
	return fmt.Sprintf("node(s) had untolerated taint {%s: %s}", t.Key, t.Value)
}

// fits returns "" when pod may run on node, else the reason it may not.
func fits(pod *corev1.Pod, node *corev1.Node) string {
	if node.Spec.Unschedulable && !tolerates(pod.Spec.Tolerations, corev1.Taint{Key: corev1.TaintNodeUnschedulable, Effect: corev1.TaintEffectNoSchedule}) {
		return reasonUnschedulable
	}
	if !nodeReady(node) {
		t := corev1.Taint{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoSchedule}
		if !tolerates(pod.Spec.Tolerations, t) {
			return untolerated(t)
		}
	}
	for _, t := range node.Spec.Taints {
		if t.Effect != corev1.TaintEffectNoSchedule && t.Effect != corev1.TaintEffectNoExecute {
			continue
		}
		if !tolerates(pod.Spec.Tolerations, t) {
			return untolerated(t)
		}
	}
	if !nodeaffinity.Matches(pod, node) {
		return reasonAffinity
	}
	return ""
}

func nodeReady(node *corev1.Node) bool {
	for _, c := range node.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// tolerates reports whether one of tols tolerates taint, with upstream's
// matching: an empty key with Exists matches every key, an empty effect
// every effect.
func tolerates(tols []corev1.Toleration, taint corev1.Taint) bool {
	for _, t := range tols {
		if t.Effect != "" && t.Effect != taint.Effect {
			continue
		}
		if t.Key != "" && t.Key != taint.Key {
			continue
		}
		switch t.Operator {
		case corev1.TolerationOpExists:
			return true
		case corev1.TolerationOpEqual, "":
			if t.Key != "" && t.Value == taint.Value {
				return true
			}
		}
	}
	return false
}

// unschedulableMessage summarises why no node fits, as upstream:
// "0/3 nodes are available: 1 node(s) were unschedulable, 2 ...".
func unschedulableMessage(total int, reasons map[string]int) string {
	if total == 0 {
		return "no nodes available to schedule pods"
	}
	var parts []string
	for r, n := range reasons {
		parts = append(parts, fmt.Sprintf("%d %s", n, r))
	}
	sort.Strings(parts)
	return fmt.Sprintf("0/%d nodes are available: %s. preemption: 0/%d nodes are available: %d Preemption is not helpful for scheduling.",
		total, strings.Join(parts, ", "), total, total)
}

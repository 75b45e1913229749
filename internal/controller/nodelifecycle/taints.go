package nodelifecycle

import (
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// managedTaintKeys are the taint keys this controller adds and removes.
var managedTaintKeys = []string{corev1.TaintNodeUnreachable, corev1.TaintNodeNotReady}

// desiredTaints returns the Node's taints with the managed ones replaced by
// key's NoSchedule and NoExecute taints (none when key is ""). Taints kept
// from before keep their timeAdded. It reports whether anything changed.
func desiredTaints(current []corev1.Taint, key string, now time.Time) ([]corev1.Taint, bool) {
	var out []corev1.Taint
	changed := false
	for _, t := range current {
		if slices.Contains(managedTaintKeys, t.Key) && t.Key != key {
			changed = true
			continue
		}
		out = append(out, t)
	}
	if key == "" {
		return out, changed
	}
	for _, effect := range []corev1.TaintEffect{corev1.TaintEffectNoSchedule, corev1.TaintEffectNoExecute} {
		if slices.ContainsFunc(out, func(t corev1.Taint) bool { return t.Key == key && t.Effect == effect }) {
			continue
		}
		t := corev1.Taint{Key: key, Effect: effect}
		if effect == corev1.TaintEffectNoExecute {
			added := metav1.NewTime(now)
			t.TimeAdded = &added
		}
		out = append(out, t)
		changed = true
	}
	return out, changed
}

// tolerates reports whether tol matches taint, by the rules of the
// tolerations API (empty key with Exists matches every key, empty effect
// every effect, operator Equal by default).
func tolerates(tol corev1.Toleration, taint corev1.Taint) bool {
	if tol.Effect != "" && tol.Effect != taint.Effect {
		return false
	}
	if tol.Key != "" && tol.Key != taint.Key {
		return false
	}
	switch tol.Operator {
	case corev1.TolerationOpExists:
		return true
	case corev1.TolerationOpEqual, "":
		return tol.Key != "" && tol.Value == taint.Value
	}
	return false
}

// evictionTime returns when pod must leave a Node with taints: the
// earliest, over the NoExecute taints, of timeAdded plus the shortest
// tolerationSeconds of the pod's matching tolerations, or plus
// defaultTimeout when the pod has none (the toleration upstream's
// DefaultTolerationSeconds admission would have added). ok is false when
// the pod tolerates every NoExecute taint forever.
func evictionTime(pod *corev1.Pod, taints []corev1.Taint, defaultTimeout time.Duration, fallbackAdded time.Time) (at time.Time, ok bool) {
	for _, taint := range taints {
		if taint.Effect != corev1.TaintEffectNoExecute {
			continue
		}
		added := fallbackAdded
		if taint.TimeAdded != nil {
			added = taint.TimeAdded.Time
		}
		wait, forever, matched := time.Duration(0), false, false
		for _, tol := range pod.Spec.Tolerations {
			if !tolerates(tol, taint) {
				continue
			}
			if tol.TolerationSeconds == nil {
				forever = true
				break
			}
			d := time.Duration(max(*tol.TolerationSeconds, 0)) * time.Second
			if !matched || d < wait {
				wait = d
			}
			matched = true
		}
		if forever {
			continue
		}
		if !matched {
			wait = defaultTimeout
		}
		if t := added.Add(wait); !ok || t.Before(at) {
			at, ok = t, true
		}
	}
	return at, ok
}

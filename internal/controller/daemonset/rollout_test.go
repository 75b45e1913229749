package daemonset

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func intOrStr(n int) *intstr.IntOrString { v := intstr.FromInt(n); return &v }

func TestRolloutLimits(t *testing.T) {
	pct := func(s string) *intstr.IntOrString { v := intstr.FromString(s); return &v }
	for _, tc := range []struct {
		name               string
		strategy           appsv1.DaemonSetUpdateStrategy
		desired            int
		surge, unavailable int
	}{
		{name: "default", desired: 5, unavailable: 1,
			strategy: appsv1.DaemonSetUpdateStrategy{Type: appsv1.RollingUpdateDaemonSetStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDaemonSet{MaxUnavailable: intOrStr(1), MaxSurge: intOrStr(0)}}},
		{name: "percent rounds up", desired: 5, unavailable: 2,
			strategy: appsv1.DaemonSetUpdateStrategy{Type: appsv1.RollingUpdateDaemonSetStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDaemonSet{MaxUnavailable: pct("30%"), MaxSurge: intOrStr(0)}}},
		{name: "surge percent", desired: 3, surge: 1,
			strategy: appsv1.DaemonSetUpdateStrategy{Type: appsv1.RollingUpdateDaemonSetStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDaemonSet{MaxUnavailable: intOrStr(0), MaxSurge: pct("10%")}}},
		{name: "both zero means one unavailable", desired: 3, unavailable: 1,
			strategy: appsv1.DaemonSetUpdateStrategy{Type: appsv1.RollingUpdateDaemonSetStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDaemonSet{MaxUnavailable: intOrStr(0), MaxSurge: intOrStr(0)}}},
		{name: "on delete", desired: 3, strategy: appsv1.DaemonSetUpdateStrategy{Type: appsv1.OnDeleteDaemonSetStrategyType}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ds := newDS(func(ds *appsv1.DaemonSet) { ds.Spec.UpdateStrategy = tc.strategy })
			surge, unavailable, err := rolloutLimits(ds, tc.desired)
			if err != nil || surge != tc.surge || unavailable != tc.unavailable {
				t.Errorf("got surge %d unavailable %d err %v, want %d %d", surge, unavailable, err, tc.surge, tc.unavailable)
			}
		})
	}
}

func TestRolloutPlan(t *testing.T) {
	now := time.Unix(10000, 0)
	const hash = "cur"
	var seq int
	pod := func(hash string, state string) *corev1.Pod {
		seq++
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: hash + "-" + string(rune('a'+seq)),
			Labels: map[string]string{RevisionHashLabel: hash}}}
		switch state {
		case "ready":
			p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(now.Add(-time.Hour))}}
		case "fresh": // ready, not yet for minReadySeconds
			p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(now)}}
		case "deleting":
			ts := metav1.NewTime(now)
			p.DeletionTimestamp = &ts
		}
		return p
	}
	old, cur := func(s string) *corev1.Pod { return pod("old", s) }, func(s string) *corev1.Pod { return pod(hash, s) }
	for _, tc := range []struct {
		name                        string
		surge, unavailable, desired int
		pods                        map[string][]*corev1.Pod
		leaving                     []string // nodes the DaemonSet no longer belongs on
		del                         []string // nodes whose pod is deleted
		create                      []string
	}{
		{
			name: "one at a time", unavailable: 1, desired: 3,
			pods: map[string][]*corev1.Pod{"n1": {old("ready")}, "n2": {old("ready")}, "n3": {old("ready")}},
			del:  []string{"n1"},
		},
		{
			name: "two at a time", unavailable: 2, desired: 3,
			pods: map[string][]*corev1.Pod{"n1": {old("ready")}, "n2": {old("ready")}, "n3": {old("ready")}},
			del:  []string{"n1", "n2"},
		},
		{
			name: "a new pod still starting uses the budget", unavailable: 1, desired: 3,
			pods: map[string][]*corev1.Pod{"n1": {cur("")}, "n2": {old("ready")}, "n3": {old("ready")}},
		},
		{
			name: "a new pod within minReadySeconds uses the budget", unavailable: 1, desired: 2,
			pods: map[string][]*corev1.Pod{"n1": {cur("fresh")}, "n2": {old("ready")}},
		},
		{
			name: "a node without a pod uses the budget", unavailable: 1, desired: 2,
			pods: map[string][]*corev1.Pod{"n1": nil, "n2": {old("ready")}},
		},
		{
			name: "a node whose pod is being replaced uses the budget", unavailable: 1, desired: 2,
			pods: map[string][]*corev1.Pod{"n1": {old("deleting")}, "n2": {old("ready")}},
		},
		{
			name: "unavailable old pods are always replaced", unavailable: 1, desired: 3,
			pods: map[string][]*corev1.Pod{"n1": {old("")}, "n2": {old("")}, "n3": {old("ready")}},
			del:  []string{"n1", "n2"},
		},
		{
			name: "updated and available: nothing to do", unavailable: 1, desired: 2,
			pods: map[string][]*corev1.Pod{"n1": {cur("ready")}, "n2": {cur("ready")}},
		},
		{
			name: "surge one", surge: 1, desired: 3,
			pods:   map[string][]*corev1.Pod{"n1": {old("ready")}, "n2": {old("ready")}, "n3": {old("ready")}},
			create: []string{"n1"},
		},
		{
			name: "surge: new pod available, old goes; next node surges", surge: 1, desired: 2,
			pods:   map[string][]*corev1.Pod{"n1": {old("ready"), cur("ready")}, "n2": {old("ready")}},
			del:    []string{"n1"},
			create: []string{"n2"},
		},
		{
			name: "surge: waiting for the new pod", surge: 1, desired: 2,
			pods: map[string][]*corev1.Pod{"n1": {old("ready"), cur("")}, "n2": {old("ready")}},
		},
		{
			name: "surge: an unavailable old pod is replaced at once", surge: 1, desired: 3,
			pods:   map[string][]*corev1.Pod{"n1": {old("ready"), cur("")}, "n2": {old("")}, "n3": {old("ready")}},
			create: []string{"n2"},
		},
		{
			name: "surge: leaving node goes only when others are available", surge: 1, desired: 1,
			pods:    map[string][]*corev1.Pod{"n1": {cur("ready")}, "n2": {old("ready")}},
			leaving: []string{"n2"},
			del:     []string{"n2"},
		},
		{
			name: "surge: leaving node stays while the new one starts", surge: 1, desired: 1,
			pods:    map[string][]*corev1.Pod{"n1": {cur("")}, "n2": {old("ready")}},
			leaving: []string{"n2"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			leaving := map[string]bool{}
			for _, n := range tc.leaving {
				leaving[n] = true
			}
			r := &rollout{hash: hash, minReadySeconds: 10, now: now, maxSurge: tc.surge, maxUnavailable: tc.unavailable,
				desired: tc.desired, pods: tc.pods, shouldRun: func(node string) bool { return !leaving[node] }}
			del, create := r.plan()
			var delNodes []string
			for _, p := range del {
				for node, pods := range tc.pods {
					for _, q := range pods {
						if q == p {
							delNodes = append(delNodes, node)
						}
					}
				}
				if p.Labels[RevisionHashLabel] == hash {
					t.Errorf("plan deletes current pod %s", p.Name)
				}
			}
			if diff := cmp.Diff(tc.del, delNodes); diff != "" {
				t.Errorf("deleted on nodes (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.create, create); diff != "" {
				t.Errorf("created on nodes (-want +got):\n%s", diff)
			}
		})
	}
}

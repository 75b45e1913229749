package daemonset

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func testNode(name string, mutate func(*corev1.Node)) *corev1.Node {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"kubernetes.io/hostname": name}}}
	if mutate != nil {
		mutate(n)
	}
	return n
}

func taint(key, value string, effect corev1.TaintEffect) corev1.Taint {
	return corev1.Taint{Key: key, Value: value, Effect: effect}
}

func TestShouldRun(t *testing.T) {
	for _, tc := range []struct {
		name      string
		node      *corev1.Node
		template  func(*corev1.PodSpec)
		run, keep bool
	}{
		{name: "plain node", node: testNode("n1", nil), run: true, keep: true},
		{name: "node selector matches", run: true, keep: true,
			node:     testNode("n1", func(n *corev1.Node) { n.Labels["disk"] = "ssd" }),
			template: func(s *corev1.PodSpec) { s.NodeSelector = map[string]string{"disk": "ssd"} }},
		{name: "node selector does not match", node: testNode("n1", nil),
			template: func(s *corev1.PodSpec) { s.NodeSelector = map[string]string{"disk": "ssd"} }},
		{name: "template node name elsewhere", node: testNode("n1", nil),
			template: func(s *corev1.PodSpec) { s.NodeName = "n2" }},
		{name: "template node name here", node: testNode("n1", nil), run: true, keep: true,
			template: func(s *corev1.PodSpec) { s.NodeName = "n1" }},
		{name: "required affinity by field", node: testNode("n1", nil), run: true, keep: true,
			template: func(s *corev1.PodSpec) { s.Affinity = nodeNameAffinity(nil, "n1") }},
		{name: "required affinity by field, other node", node: testNode("n1", nil),
			template: func(s *corev1.PodSpec) { s.Affinity = nodeNameAffinity(nil, "n2") }},
		{name: "required affinity by expression", node: testNode("n1", nil),
			template: func(s *corev1.PodSpec) {
				s.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
					NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{
						{Key: "kubernetes.io/hostname", Operator: corev1.NodeSelectorOpNotIn, Values: []string{"n1"}}}}}}}}
			}},
		{name: "untolerated NoSchedule taint keeps a running pod",
			node: testNode("n1", func(n *corev1.Node) {
				n.Spec.Taints = []corev1.Taint{taint("dedicated", "db", corev1.TaintEffectNoSchedule)}
			}),
			keep: true},
		{name: "untolerated NoExecute taint", node: testNode("n1", func(n *corev1.Node) {
			n.Spec.Taints = []corev1.Taint{taint("dedicated", "db", corev1.TaintEffectNoExecute)}
		})},
		{name: "PreferNoSchedule is ignored", run: true, keep: true, node: testNode("n1", func(n *corev1.Node) {
			n.Spec.Taints = []corev1.Taint{taint("dedicated", "db", corev1.TaintEffectPreferNoSchedule)}
		})},
		{name: "tolerated taints", run: true, keep: true,
			node: testNode("n1", func(n *corev1.Node) {
				n.Spec.Taints = []corev1.Taint{taint("dedicated", "db", corev1.TaintEffectNoSchedule), taint("gpu", "", corev1.TaintEffectNoExecute)}
			}),
			template: func(s *corev1.PodSpec) {
				s.Tolerations = []corev1.Toleration{
					{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "db"},
					{Key: "gpu", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute},
				}
			}},
		{name: "toleration of another value", node: testNode("n1", func(n *corev1.Node) {
			n.Spec.Taints = []corev1.Taint{taint("dedicated", "db", corev1.TaintEffectNoExecute)}
		}), template: func(s *corev1.PodSpec) {
			s.Tolerations = []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "web"}}
		}},
		{name: "unreachable node keeps its pod", keep: true, node: testNode("n1", func(n *corev1.Node) {
			n.Spec.Taints = []corev1.Taint{taint(corev1.TaintNodeUnreachable, "", corev1.TaintEffectNoSchedule),
				taint(corev1.TaintNodeUnreachable, "", corev1.TaintEffectNoExecute)}
		})},
		{name: "not-ready node keeps its pod", keep: true, node: testNode("n1", func(n *corev1.Node) {
			n.Spec.Taints = []corev1.Taint{taint(corev1.TaintNodeNotReady, "", corev1.TaintEffectNoSchedule),
				taint(corev1.TaintNodeNotReady, "", corev1.TaintEffectNoExecute)}
		})},
		{name: "pressure and cordon are tolerated", run: true, keep: true, node: testNode("n1", func(n *corev1.Node) {
			n.Spec.Unschedulable = true
			n.Spec.Taints = []corev1.Taint{taint(corev1.TaintNodeUnschedulable, "", corev1.TaintEffectNoSchedule),
				taint(corev1.TaintNodeDiskPressure, "", corev1.TaintEffectNoSchedule),
				taint(corev1.TaintNodeMemoryPressure, "", corev1.TaintEffectNoSchedule),
				taint(corev1.TaintNodePIDPressure, "", corev1.TaintEffectNoSchedule)}
		})},
		{name: "network unavailable", keep: true, node: testNode("n1", func(n *corev1.Node) {
			n.Spec.Taints = []corev1.Taint{taint(corev1.TaintNodeNetworkUnavailable, "", corev1.TaintEffectNoSchedule)}
		})},
		{name: "network unavailable with hostNetwork", run: true, keep: true, node: testNode("n1", func(n *corev1.Node) {
			n.Spec.Taints = []corev1.Taint{taint(corev1.TaintNodeNetworkUnavailable, "", corev1.TaintEffectNoSchedule)}
		}), template: func(s *corev1.PodSpec) { s.HostNetwork = true }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ds := newDS(nil)
			if tc.template != nil {
				tc.template(&ds.Spec.Template.Spec)
			}
			run, keep := shouldRun(tc.node, ds)
			if run != tc.run || keep != tc.keep {
				t.Errorf("got run=%v keep=%v, want run=%v keep=%v", run, keep, tc.run, tc.keep)
			}
		})
	}
}

func TestDaemonTolerations(t *testing.T) {
	secs := int64(300)
	spec := &corev1.PodSpec{Tolerations: []corev1.Toleration{
		{Key: "dedicated", Operator: corev1.TolerationOpExists},
		// Replaced: same key, operator, value and effect.
		{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: &secs},
		// Kept: another effect.
		{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
	}}
	addDaemonTolerations(spec)
	exists := corev1.TolerationOpExists
	want := []corev1.Toleration{
		{Key: "dedicated", Operator: exists},
		{Key: corev1.TaintNodeNotReady, Operator: exists, Effect: corev1.TaintEffectNoExecute},
		{Key: corev1.TaintNodeUnreachable, Operator: exists, Effect: corev1.TaintEffectNoSchedule},
		{Key: corev1.TaintNodeUnreachable, Operator: exists, Effect: corev1.TaintEffectNoExecute},
		{Key: corev1.TaintNodeDiskPressure, Operator: exists, Effect: corev1.TaintEffectNoSchedule},
		{Key: corev1.TaintNodeMemoryPressure, Operator: exists, Effect: corev1.TaintEffectNoSchedule},
		{Key: corev1.TaintNodePIDPressure, Operator: exists, Effect: corev1.TaintEffectNoSchedule},
		{Key: corev1.TaintNodeUnschedulable, Operator: exists, Effect: corev1.TaintEffectNoSchedule},
	}
	if diff := cmp.Diff(want, spec.Tolerations); diff != "" {
		t.Errorf("tolerations (-want +got):\n%s", diff)
	}
	addDaemonTolerations(spec)
	if diff := cmp.Diff(want, spec.Tolerations); diff != "" {
		t.Errorf("second add changed tolerations (-want +got):\n%s", diff)
	}
}

func TestNodeNameAffinity(t *testing.T) {
	preferred := []corev1.PreferredSchedulingTerm{{Weight: 1, Preference: corev1.NodeSelectorTerm{
		MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "zone", Operator: corev1.NodeSelectorOpExists}}}}}
	in := &corev1.Affinity{
		NodeAffinity: &corev1.NodeAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
				MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "disk", Operator: corev1.NodeSelectorOpExists}}}}},
			PreferredDuringSchedulingIgnoredDuringExecution: preferred,
		},
		PodAntiAffinity: &corev1.PodAntiAffinity{},
	}
	got := nodeNameAffinity(in, "n2")
	want := &corev1.Affinity{
		NodeAffinity: &corev1.NodeAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
				MatchFields: []corev1.NodeSelectorRequirement{{Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{"n2"}}}}}},
			PreferredDuringSchedulingIgnoredDuringExecution: preferred,
		},
		PodAntiAffinity: &corev1.PodAntiAffinity{},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("affinity (-want +got):\n%s", diff)
	}
	pod := &corev1.Pod{Spec: corev1.PodSpec{Affinity: got}}
	if node, err := targetNode(pod); err != nil || node != "n2" {
		t.Errorf("targetNode: got %q, %v; want n2", node, err)
	}
	pod.Spec.NodeName = "n3"
	if node, _ := targetNode(pod); node != "n3" {
		t.Errorf("targetNode of a bound pod: got %q, want n3", node)
	}
	if _, err := targetNode(&corev1.Pod{}); err == nil {
		t.Errorf("targetNode of a pod without node or affinity: got nil error")
	}
}

func TestPlanNode(t *testing.T) {
	now := time.Unix(10000, 0)
	const hash = "cur"
	at := func(name string, age time.Duration, hash string, mutate func(*corev1.Pod)) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.NewTime(now.Add(-age)),
			Labels: map[string]string{RevisionHashLabel: hash}}, Spec: corev1.PodSpec{NodeName: "n1"}}
		p.Status.Phase = corev1.PodRunning
		if mutate != nil {
			mutate(p)
		}
		return p
	}
	ready := func(p *corev1.Pod) {
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(now.Add(-time.Hour))}}
	}
	phase := func(ph corev1.PodPhase) func(*corev1.Pod) { return func(p *corev1.Pod) { p.Status.Phase = ph } }
	deleting := func(p *corev1.Pod) { ts := metav1.NewTime(now); p.DeletionTimestamp = &ts }
	names := func(pods []*corev1.Pod) []string {
		var out []string
		for _, p := range pods {
			out = append(out, p.Name)
		}
		return out
	}
	for _, tc := range []struct {
		name                      string
		run, keep, surge          bool
		pods                      []*corev1.Pod
		create                    bool
		excess, succeeded, failed []string
	}{
		{name: "missing", run: true, keep: true, create: true},
		{name: "present", run: true, keep: true, pods: []*corev1.Pod{at("a", time.Minute, hash, nil)}},
		{name: "only a terminating pod", run: true, keep: true, pods: []*corev1.Pod{at("a", time.Minute, hash, deleting)}},
		{name: "extra copies: the oldest stays", run: true, keep: true,
			pods:   []*corev1.Pod{at("b", time.Minute, hash, nil), at("a", time.Hour, hash, nil), at("c", time.Second, "old", nil)},
			excess: []string{"b", "c"}},
		{name: "scheduled before unscheduled", run: true, keep: true,
			pods:   []*corev1.Pod{at("old-unbound", time.Hour, hash, func(p *corev1.Pod) { p.Spec.NodeName = "" }), at("new-bound", time.Minute, hash, nil)},
			excess: []string{"old-unbound"}},
		{name: "failed and succeeded", run: true, keep: true,
			pods:      []*corev1.Pod{at("f", time.Minute, hash, phase(corev1.PodFailed)), at("s", time.Hour, hash, phase(corev1.PodSucceeded))},
			succeeded: []string{"s"}, failed: []string{"f"}},
		{name: "tainted NoSchedule: kept, not created", keep: true, pods: []*corev1.Pod{at("a", time.Minute, hash, nil)}},
		{name: "tainted NoSchedule, nothing there", keep: true},
		{name: "no longer belongs", pods: []*corev1.Pod{at("a", time.Minute, hash, nil), at("b", time.Minute, hash, deleting)},
			excess: []string{"a"}},
		{name: "surge: old ready, new not available: both stay", run: true, keep: true, surge: true,
			pods: []*corev1.Pod{at("old", time.Hour, "old", ready), at("new", time.Minute, hash, nil)}},
		{name: "surge: new available: old goes", run: true, keep: true, surge: true,
			pods:   []*corev1.Pod{at("old", time.Hour, "old", ready), at("new", time.Minute, hash, ready)},
			excess: []string{"old"}},
		{name: "surge: old not ready: old goes", run: true, keep: true, surge: true,
			pods:   []*corev1.Pod{at("old", time.Hour, "old", nil), at("new", time.Minute, hash, nil)},
			excess: []string{"old"}},
		{name: "surge: only a failed pod: replace beside it", run: true, keep: true, surge: true,
			pods: []*corev1.Pod{at("f", time.Minute, hash, phase(corev1.PodFailed))}, create: true, failed: []string{"f"}},
		{name: "surge: extra new copies go", run: true, keep: true, surge: true,
			pods:   []*corev1.Pod{at("new1", time.Hour, hash, ready), at("new2", time.Minute, hash, nil)},
			excess: []string{"new2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := planNode(tc.run, tc.keep, tc.pods, tc.surge, hash, nil, 0, now)
			if p.create != tc.create {
				t.Errorf("create: got %v, want %v", p.create, tc.create)
			}
			for _, c := range []struct {
				what      string
				got, want []string
			}{{"excess", names(p.excess), tc.excess}, {"succeeded", names(p.succeeded), tc.succeeded}, {"failed", names(p.failed), tc.failed}} {
				if diff := cmp.Diff(c.want, c.got); diff != "" {
					t.Errorf("%s (-want +got):\n%s", c.what, diff)
				}
			}
		})
	}
}

// newDS returns a RollingUpdate DaemonSet as the API server stores it.
func newDS(mutate func(*appsv1.DaemonSet)) *appsv1.DaemonSet {
	one, zero, ten := intOrStr(1), intOrStr(0), int32(10)
	ds := &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "agent", Namespace: "default", UID: "ds-agent", Generation: 1,
			Annotations: map[string]string{appsv1.DeprecatedTemplateGeneration: "1"}},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "agent"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "agent"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "v1"}}},
			},
			UpdateStrategy: appsv1.DaemonSetUpdateStrategy{Type: appsv1.RollingUpdateDaemonSetStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDaemonSet{MaxUnavailable: one, MaxSurge: zero}},
			RevisionHistoryLimit: &ten,
		},
	}
	if mutate != nil {
		mutate(ds)
	}
	return ds
}

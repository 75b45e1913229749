package scheduler

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
)

func node(name string, mutate func(*corev1.Node)) *corev1.Node {
	n := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"kubernetes.io/hostname": name}},
		Status:     corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}},
	}
	if mutate != nil {
		mutate(n)
	}
	return n
}

func pod(name, owner string, mutate func(*corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID(name)},
		Spec:       corev1.PodSpec{SchedulerName: Name, Containers: []corev1.Container{{Name: "c", Image: "i"}}},
	}
	if owner != "" {
		yes := true
		p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: owner, UID: types.UID(owner), Controller: &yes}}
	}
	if mutate != nil {
		mutate(p)
	}
	return p
}

func TestSpread(t *testing.T) {
	objs := []runtime.Object{node("n1", nil), node("n2", nil), node("n3", nil),
		// n1 already runs two pods of another owner.
		pod("x1", "other", func(p *corev1.Pod) { p.Spec.NodeName = "n1" }),
		pod("x2", "other", func(p *corev1.Pod) { p.Spec.NodeName = "n1" }),
	}
	for i := 0; i < 6; i++ {
		objs = append(objs, pod(fmt.Sprintf("web-%d", i), "web", nil))
	}
	client := newClient(objs...)
	rec := start(t, client)
	eventually(t, func() string {
		per := map[string]int{}
		for _, p := range listPods(t, client, "default") {
			if strings.HasPrefix(p.Name, "web-") {
				if p.Spec.NodeName == "" {
					return p.Name + " not scheduled"
				}
				per[p.Spec.NodeName]++
			}
		}
		return cmp.Diff(map[string]int{"n1": 2, "n2": 2, "n3": 2}, per)
	})
	eventually(t, func() string {
		for _, e := range rec.List() {
			if strings.HasPrefix(e, "Normal Scheduled Successfully assigned default/web-0 to n") {
				return ""
			}
		}
		return fmt.Sprintf("no Scheduled event for web-0: %v", rec.List())
	})
}

func TestConstraints(t *testing.T) {
	client := newClient(
		node("plain", nil),
		node("ssd", func(n *corev1.Node) { n.Labels["disk"] = "ssd" }),
		node("cordoned", func(n *corev1.Node) { n.Labels["disk"] = "ssd"; n.Spec.Unschedulable = true }),
		node("tainted", func(n *corev1.Node) {
			n.Labels["disk"] = "ssd"
			n.Spec.Taints = []corev1.Taint{{Key: "dedicated", Value: "db", Effect: corev1.TaintEffectNoSchedule}}
		}),
		pod("selector", "", func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{"disk": "ssd"} }),
		pod("affinity", "", func(p *corev1.Pod) {
			p.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
				NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "disk", Operator: corev1.NodeSelectorOpDoesNotExist}}}},
			}}}
		}),
		pod("tolerant", "", func(p *corev1.Pod) {
			p.Spec.NodeSelector = map[string]string{"kubernetes.io/hostname": "tainted"}
			p.Spec.Tolerations = []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "db", Effect: corev1.TaintEffectNoSchedule}}
		}),
		pod("other-scheduler", "", func(p *corev1.Pod) { p.Spec.SchedulerName = "custom" }),
		// A DaemonSet's pod: bound by matchFields to its node, which is
		// cordoned, as upstream's DaemonSet controller makes them.
		pod("daemon", "", func(p *corev1.Pod) {
			p.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
				NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchFields: []corev1.NodeSelectorRequirement{
					{Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{"cordoned"}}}}},
			}}}
			p.Spec.Tolerations = []corev1.Toleration{{Key: corev1.TaintNodeUnschedulable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}}
		}),
	)
	start(t, client)
	want := map[string]string{"selector": "ssd", "affinity": "plain", "tolerant": "tainted", "other-scheduler": "", "daemon": "cordoned"}
	eventually(t, func() string {
		got := map[string]string{}
		for _, p := range listPods(t, client, "default") {
			got[p.Name] = p.Spec.NodeName
		}
		return cmp.Diff(want, got)
	})
}

func TestUnschedulableThenRetry(t *testing.T) {
	client := newClient(
		node("a", func(n *corev1.Node) { n.Spec.Unschedulable = true }),
		node("b", func(n *corev1.Node) { n.Status.Conditions[0].Status = corev1.ConditionFalse }),
		node("c", func(n *corev1.Node) { n.Labels["zone"] = "x" }),
		pod("p", "", func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{"zone": "y"} }),
	)
	rec := start(t, client)
	wantMsg := "0/3 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 1 node(s) had untolerated taint {node.kubernetes.io/not-ready: }, 1 node(s) were unschedulable. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
	eventually(t, func() string {
		p, err := client.CoreV1().Pods("default").Get(context.Background(), "p", metav1.GetOptions{})
		if err != nil {
			return err.Error()
		}
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodScheduled {
				got := fmt.Sprintf("%s %s %s", c.Status, c.Reason, c.Message)
				if want := "False Unschedulable " + wantMsg; got != want {
					return fmt.Sprintf("condition: got %q, want %q", got, want)
				}
				return ""
			}
		}
		return "no PodScheduled condition"
	})
	found := false
	for _, e := range rec.List() {
		found = found || e == "Warning FailedScheduling "+wantMsg
	}
	if !found {
		t.Errorf("no FailedScheduling event: %v", rec.List())
	}
	// The node gets the label: the pod is retried at once.
	n, _ := client.CoreV1().Nodes().Get(context.Background(), "c", metav1.GetOptions{})
	n.Labels["zone"] = "y"
	if _, err := client.CoreV1().Nodes().Update(context.Background(), n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() string {
		p, _ := client.CoreV1().Pods("default").Get(context.Background(), "p", metav1.GetOptions{})
		if p.Spec.NodeName != "c" {
			return fmt.Sprintf("nodeName %q, want c", p.Spec.NodeName)
		}
		return ""
	})
}

func TestTolerates(t *testing.T) {
	taint := corev1.Taint{Key: "k", Value: "v", Effect: corev1.TaintEffectNoSchedule}
	for _, tc := range []struct {
		name string
		tol  corev1.Toleration
		want bool
	}{
		{"equal", corev1.Toleration{Key: "k", Value: "v"}, true},
		{"other value", corev1.Toleration{Key: "k", Value: "w"}, false},
		{"exists", corev1.Toleration{Key: "k", Operator: corev1.TolerationOpExists}, true},
		{"exists everything", corev1.Toleration{Operator: corev1.TolerationOpExists}, true},
		{"other effect", corev1.Toleration{Key: "k", Value: "v", Effect: corev1.TaintEffectNoExecute}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tolerates([]corev1.Toleration{tc.tol}, taint); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

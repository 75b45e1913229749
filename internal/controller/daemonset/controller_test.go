package daemonset

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

func equalTemplates(a, b *corev1.PodTemplateSpec) bool { return apiequality.Semantic.DeepEqual(a, b) }

func formatInt(n int64) string { return strconv.FormatInt(n, 10) }

func worker(name string, mutate func(*corev1.Node)) *corev1.Node {
	return testNode(name, func(n *corev1.Node) {
		n.Labels["role"] = "worker"
		if mutate != nil {
			mutate(n)
		}
	})
}

func statusLine(ds *appsv1.DaemonSet) string {
	s := ds.Status
	return fmt.Sprintf("desired=%d current=%d ready=%d updated=%d available=%d unavailable=%d misscheduled=%d observed=%d",
		s.DesiredNumberScheduled, s.CurrentNumberScheduled, s.NumberReady, s.UpdatedNumberScheduled, s.NumberAvailable,
		s.NumberUnavailable, s.NumberMisscheduled, s.ObservedGeneration)
}

func TestPodPerNode(t *testing.T) {
	ds := newDS(func(ds *appsv1.DaemonSet) { ds.Spec.Template.Spec.NodeSelector = map[string]string{"role": "worker"} })
	e := start(t, newClient(ds,
		worker("n1", nil), worker("n2", nil),
		testNode("control", nil), // no role label
		worker("tainted", func(n *corev1.Node) {
			n.Spec.Taints = []corev1.Taint{{Key: "dedicated", Value: "db", Effect: corev1.TaintEffectNoSchedule}}
		}),
	))
	eventually(t, func() string { return cmp.Diff(map[string][]string{"n1": {"v1"}, "n2": {"v1"}}, e.podNodes(t)) })
	eventually(t, func() string {
		return cmp.Diff("desired=2 current=2 ready=2 updated=2 available=2 unavailable=0 misscheduled=0 observed=1", statusLine(e.ds(t)))
	})

	pod := e.pods(t)[0]
	if !strings.HasPrefix(pod.Name, "agent-") {
		t.Errorf("pod name %q, want agent-<suffix>", pod.Name)
	}
	ref := metav1.GetControllerOf(&pod)
	if ref == nil || ref.Kind != "DaemonSet" || ref.Name != "agent" || ref.UID != ds.UID {
		t.Errorf("controller reference %+v, want the DaemonSet agent", ref)
	}
	hash := pod.Labels[RevisionHashLabel]
	if hash == "" || pod.Labels[TemplateGenerationLabel] != "1" || pod.Labels["app"] != "agent" {
		t.Errorf("labels %v, want app, controller-revision-hash and pod-template-generation=1", pod.Labels)
	}
	revs, err := e.client.AppsV1().ControllerRevisions("default").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(revs.Items) != 1 || revs.Items[0].Name != "agent-"+hash || revs.Items[0].Revision != 1 {
		t.Errorf("controller revisions %+v, want agent-%s at revision 1", revs.Items, hash)
	}
	tols := map[string]bool{}
	for _, tol := range pod.Spec.Tolerations {
		tols[tol.Key+":"+string(tol.Effect)] = true
	}
	for _, want := range []string{"node.kubernetes.io/not-ready:NoExecute", "node.kubernetes.io/unreachable:NoExecute",
		"node.kubernetes.io/unschedulable:NoSchedule", "node.kubernetes.io/disk-pressure:NoSchedule"} {
		if !tols[want] {
			t.Errorf("pod lacks toleration %s: %v", want, pod.Spec.Tolerations)
		}
	}

	// A new node gets a pod; a deleted one loses it, a relabelled one
	// too.
	if _, err := e.client.CoreV1().Nodes().Create(context.Background(), worker("n3", nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() string {
		return cmp.Diff(map[string][]string{"n1": {"v1"}, "n2": {"v1"}, "n3": {"v1"}}, e.podNodes(t))
	})
	if err := e.client.CoreV1().Nodes().Delete(context.Background(), "n3", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	n2, _ := e.client.CoreV1().Nodes().Get(context.Background(), "n2", metav1.GetOptions{})
	delete(n2.Labels, "role")
	if _, err := e.client.CoreV1().Nodes().Update(context.Background(), n2, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() string { return cmp.Diff(map[string][]string{"n1": {"v1"}}, e.podNodes(t)) })
	eventually(t, func() string {
		return cmp.Diff("desired=1 current=1 ready=1 updated=1 available=1 unavailable=0 misscheduled=0 observed=1", statusLine(e.ds(t)))
	})

	// A pod that failed is replaced.
	failed := e.pods(t)[0].Name
	e.setPhase(t, failed, corev1.PodFailed)
	eventually(t, func() string {
		pods := e.pods(t)
		if len(pods) != 1 || pods[0].Name == failed || pods[0].Status.Phase != corev1.PodRunning {
			return fmt.Sprintf("pods %v, want one running replacement of %s", len(pods), failed)
		}
		return ""
	})
	want := fmt.Sprintf("Warning FailedDaemonPod Found failed daemon pod default/%s on node n1, will try to kill it", failed)
	if !containsEvent(e.rec.List(), want) {
		t.Errorf("events %v lack %q", e.rec.List(), want)
	}
}

func containsEvent(events []string, want string) bool {
	for _, e := range events {
		if e == want {
			return true
		}
	}
	return false
}

func TestRollingUpdate(t *testing.T) {
	e := start(t, newClient(newDS(nil), worker("n1", nil), worker("n2", nil), worker("n3", nil)))
	eventually(t, func() string {
		return cmp.Diff(map[string][]string{"n1": {"v1"}, "n2": {"v1"}, "n3": {"v1"}}, e.podNodes(t))
	})
	eventually(t, func() string {
		return cmp.Diff("desired=3 current=3 ready=3 updated=3 available=3 unavailable=0 misscheduled=0 observed=1", statusLine(e.ds(t)))
	})

	// With the agents holding new pods unready, one node at a time.
	e.setAuto(false)
	e.updateDS(t, func(ds *appsv1.DaemonSet) { ds.Spec.Template.Spec.Containers[0].Image = "v2" })
	var first string
	eventually(t, func() string {
		got := e.podNodes(t)
		if len(got["n1"]) != 1 || got["n1"][0] != "v2" {
			return fmt.Sprintf("pods %v, want n1 replaced first", got)
		}
		first = e.pods(t)[0].Name
		return cmp.Diff(map[string][]string{"n1": {"v2"}, "n2": {"v1"}, "n3": {"v1"}}, got)
	})
	eventually(t, func() string {
		return cmp.Diff("desired=3 current=3 ready=2 updated=1 available=2 unavailable=1 misscheduled=0 observed=2", statusLine(e.ds(t)))
	})
	for _, p := range e.pods(t) {
		if p.Spec.Containers[0].Image == "v2" {
			first = p.Name
			if p.Labels[TemplateGenerationLabel] != "2" {
				t.Errorf("new pod pod-template-generation %q, want 2", p.Labels[TemplateGenerationLabel])
			}
		}
	}
	// Nothing more moves while the new pod is not ready.
	if got := e.podNodes(t); !cmp.Equal(got, map[string][]string{"n1": {"v2"}, "n2": {"v1"}, "n3": {"v1"}}) {
		t.Fatalf("pods %v moved on before the new pod was ready", got)
	}
	e.setReady(t, first)
	eventually(t, func() string {
		return cmp.Diff(map[string][]string{"n1": {"v2"}, "n2": {"v2"}, "n3": {"v1"}}, e.podNodes(t))
	})
	e.setAuto(true)
	eventually(t, func() string {
		return cmp.Diff(map[string][]string{"n1": {"v2"}, "n2": {"v2"}, "n3": {"v2"}}, e.podNodes(t))
	})
	eventually(t, func() string {
		return cmp.Diff("desired=3 current=3 ready=3 updated=3 available=3 unavailable=0 misscheduled=0 observed=2", statusLine(e.ds(t)))
	})

	// Undo: the first template's revision becomes the newest.
	e.updateDS(t, func(ds *appsv1.DaemonSet) { ds.Spec.Template.Spec.Containers[0].Image = "v1" })
	eventually(t, func() string {
		return cmp.Diff(map[string][]string{"n1": {"v1"}, "n2": {"v1"}, "n3": {"v1"}}, e.podNodes(t))
	})
	eventually(t, func() string {
		revs, err := e.client.AppsV1().ControllerRevisions("default").List(context.Background(), metav1.ListOptions{})
		if err != nil {
			return err.Error()
		}
		got := map[string]int64{}
		for _, r := range revs.Items {
			got[r.Labels[RevisionHashLabel]] = r.Revision
		}
		return cmp.Diff(map[string]int64{e.pods(t)[0].Labels[RevisionHashLabel]: 3, podsHashOther(got, e.pods(t)[0].Labels[RevisionHashLabel]): 2}, got)
	})
}

// podsHashOther returns the hash in revs other than hash.
func podsHashOther(revs map[string]int64, hash string) string {
	for h := range revs {
		if h != hash {
			return h
		}
	}
	return ""
}

func TestOnDelete(t *testing.T) {
	ds := newDS(func(ds *appsv1.DaemonSet) {
		ds.Spec.UpdateStrategy = appsv1.DaemonSetUpdateStrategy{Type: appsv1.OnDeleteDaemonSetStrategyType}
	})
	e := start(t, newClient(ds, worker("n1", nil), worker("n2", nil)))
	eventually(t, func() string { return cmp.Diff(map[string][]string{"n1": {"v1"}, "n2": {"v1"}}, e.podNodes(t)) })
	e.updateDS(t, func(ds *appsv1.DaemonSet) { ds.Spec.Template.Spec.Containers[0].Image = "v2" })
	eventually(t, func() string {
		return cmp.Diff("desired=2 current=2 ready=2 updated=0 available=2 unavailable=0 misscheduled=0 observed=2", statusLine(e.ds(t)))
	})
	if got := e.podNodes(t); !cmp.Equal(got, map[string][]string{"n1": {"v1"}, "n2": {"v1"}}) {
		t.Fatalf("OnDelete replaced pods on its own: %v", got)
	}
	for _, p := range e.pods(t) {
		if p.Spec.NodeName == "n2" {
			if err := e.client.CoreV1().Pods("default").Delete(context.Background(), p.Name, metav1.DeleteOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	eventually(t, func() string { return cmp.Diff(map[string][]string{"n1": {"v1"}, "n2": {"v2"}}, e.podNodes(t)) })
	eventually(t, func() string {
		return cmp.Diff("desired=2 current=2 ready=2 updated=1 available=2 unavailable=0 misscheduled=0 observed=2", statusLine(e.ds(t)))
	})
}

func TestAdoptsOrphanAndPrunesExtra(t *testing.T) {
	orphan := func(name string) *corev1.Pod {
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("uid-" + name + "-orphan"),
				Labels: map[string]string{"app": "agent"}, CreationTimestamp: metav1.Unix(int64(len(name)), 0)},
			Spec:   corev1.PodSpec{NodeName: "n1", Containers: []corev1.Container{{Name: "c", Image: "v0"}}},
			Status: corev1.PodStatus{Phase: corev1.PodRunning},
		}
	}
	e := start(t, newClient(newDS(nil), worker("n1", nil), orphan("a"), orphan("bb")))
	// Both are adopted; the younger one goes; the older one, of an
	// unknown template, is then rolled to the current one.
	eventually(t, func() string { return cmp.Diff(map[string][]string{"n1": {"v1"}}, e.podNodes(t)) })
	p := e.pods(t)[0]
	if ref := metav1.GetControllerOf(&p); ref == nil || ref.UID != "ds-agent" {
		t.Errorf("pod %s controller %+v, want the DaemonSet", p.Name, ref)
	}
}

package statefulset

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func newSet(replicas int32, policy appsv1.PodManagementPolicyType) *appsv1.StatefulSet {
	return &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "default", UID: "set-db", Generation: 1},
		Spec: appsv1.StatefulSetSpec{
			Replicas:            &replicas,
			ServiceName:         "db-svc",
			PodManagementPolicy: policy,
			Selector:            &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "db"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "v1"}}},
			},
			UpdateStrategy: appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType},
		},
	}
}

func podNames(t *testing.T, client *fake.Clientset) []string {
	var names []string
	for _, p := range listPods(t, client, "default") {
		names = append(names, p.Name)
	}
	sort.Strings(names)
	return names
}

func waitNames(t *testing.T, client *fake.Clientset, want ...string) {
	t.Helper()
	eventually(t, func() string { return cmp.Diff(want, podNames(t, client)) })
}

func setReady(t *testing.T, client *fake.Clientset, name string) {
	t.Helper()
	p, err := client.CoreV1().Pods("default").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p.Status.Phase = corev1.PodRunning
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.Now()}}
	if _, err := client.CoreV1().Pods("default").UpdateStatus(context.Background(), p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func updateSet(t *testing.T, client *fake.Clientset, mutate func(*appsv1.StatefulSet)) {
	t.Helper()
	s, err := client.AppsV1().StatefulSets("default").Get(context.Background(), "db", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	mutate(s)
	s.Generation++
	if _, err := client.AppsV1().StatefulSets("default").Update(context.Background(), s, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestOrderedReady(t *testing.T) {
	client := newClient(newSet(3, appsv1.OrderedReadyPodManagement))
	e := start(t, client)
	e.setAuto(false)
	waitNames(t, client, "db-0")
	p, _ := client.CoreV1().Pods("default").Get(context.Background(), "db-0", metav1.GetOptions{})
	if p.Spec.Hostname != "db-0" || p.Spec.Subdomain != "db-svc" {
		t.Errorf("hostname/subdomain: got %q/%q, want db-0/db-svc", p.Spec.Hostname, p.Spec.Subdomain)
	}
	rev := p.Labels[RevisionHashLabel]
	if !strings.HasPrefix(rev, "db-") {
		t.Errorf("controller-revision-hash: got %q, want db-<hash>", rev)
	}
	want := map[string]string{"app": "db", PodNameLabel: "db-0", PodIndexLabel: "0", RevisionHashLabel: rev}
	if diff := cmp.Diff(want, p.Labels); diff != "" {
		t.Errorf("labels (-want +got):\n%s", diff)
	}
	if _, err := client.AppsV1().ControllerRevisions("default").Get(context.Background(), rev, metav1.GetOptions{}); err != nil {
		t.Errorf("controller revision %s: %v", rev, err)
	}
	// db-1 comes only after db-0 is Running and Ready.
	if names := podNames(t, client); len(names) != 1 {
		t.Fatalf("got pods %v before db-0 was ready, want only db-0", names)
	}
	setReady(t, client, "db-0")
	waitNames(t, client, "db-0", "db-1")
	setReady(t, client, "db-1")
	waitNames(t, client, "db-0", "db-1", "db-2")
	setReady(t, client, "db-2")
	eventually(t, func() string {
		s, _ := client.AppsV1().StatefulSets("default").Get(context.Background(), "db", metav1.GetOptions{})
		got := fmt.Sprintf("%d/%d/%d/%d/%d %s %s", s.Status.Replicas, s.Status.ReadyReplicas, s.Status.AvailableReplicas,
			s.Status.CurrentReplicas, s.Status.UpdatedReplicas, s.Status.CurrentRevision, s.Status.UpdateRevision)
		return cmp.Diff(fmt.Sprintf("3/3/3/3/3 %s %s", rev, rev), got)
	})

	// A deleted pod comes back with the same name; scale down removes the
	// highest ordinal.
	e.setAuto(true)
	if err := client.CoreV1().Pods("default").Delete(context.Background(), "db-1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitNames(t, client, "db-0", "db-1", "db-2")
	updateSet(t, client, func(s *appsv1.StatefulSet) { n := int32(1); s.Spec.Replicas = &n })
	waitNames(t, client, "db-0")
}

func TestParallelAndRollingUpdate(t *testing.T) {
	client := newClient(newSet(3, appsv1.ParallelPodManagement))
	e := start(t, client)
	e.setAuto(false)
	// Parallel: all ordinals at once, none ready.
	waitNames(t, client, "db-0", "db-1", "db-2")
	e.setAuto(true)
	var oldRev string
	eventually(t, func() string {
		s, _ := client.AppsV1().StatefulSets("default").Get(context.Background(), "db", metav1.GetOptions{})
		oldRev = s.Status.UpdateRevision
		if s.Status.ReadyReplicas != 3 {
			return fmt.Sprintf("ready %d, want 3", s.Status.ReadyReplicas)
		}
		return ""
	})
	updateSet(t, client, func(s *appsv1.StatefulSet) { s.Spec.Template.Spec.Containers[0].Image = "v2" })
	eventually(t, func() string {
		s, _ := client.AppsV1().StatefulSets("default").Get(context.Background(), "db", metav1.GetOptions{})
		if s.Status.UpdateRevision == oldRev || s.Status.CurrentRevision != s.Status.UpdateRevision || s.Status.UpdatedReplicas != 3 || s.Status.ReadyReplicas != 3 {
			return fmt.Sprintf("status %+v", s.Status)
		}
		for _, p := range listPods(t, client, "default") {
			if p.Spec.Containers[0].Image != "v2" || p.Labels[RevisionHashLabel] != s.Status.UpdateRevision {
				return fmt.Sprintf("pod %s image %s revision %s", p.Name, p.Spec.Containers[0].Image, p.Labels[RevisionHashLabel])
			}
		}
		return ""
	})
	revs, err := client.AppsV1().ControllerRevisions("default").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(revs.Items) != 2 {
		t.Errorf("got %d controller revisions, want 2", len(revs.Items))
	}
}

func TestOrdinal(t *testing.T) {
	set := newSet(1, "")
	for _, tc := range []struct {
		name string
		want int
	}{{"db-0", 0}, {"db-12", 12}, {"db-01", -1}, {"db-x", -1}, {"other-1", -1}, {"db-", -1}} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ordinal(set, tc.name); got != tc.want {
				t.Errorf("got %d, want %d", got, tc.want)
			}
		})
	}
}

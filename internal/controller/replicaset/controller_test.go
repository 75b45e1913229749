package replicaset

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
)

func newRS(name string, replicas int32) *appsv1.ReplicaSet {
	return &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("rs-" + name), Generation: 1},
		Spec: appsv1.ReplicaSetSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name, "tier": "web"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "agnhost"}}},
			},
		},
	}
}

// ownedPods returns the names of the active pods controlled by uid.
func ownedPods(t *testing.T, client *fake.Clientset, uid types.UID) []string {
	var names []string
	for _, p := range listPods(t, client, "default") {
		if ref := metav1.GetControllerOf(&p); ref != nil && ref.UID == uid && p.DeletionTimestamp == nil {
			names = append(names, p.Name)
		}
	}
	sort.Strings(names)
	return names
}

func waitOwned(t *testing.T, client *fake.Clientset, uid types.UID, n int) []string {
	t.Helper()
	var names []string
	eventually(t, func() string {
		names = ownedPods(t, client, uid)
		if len(names) != n {
			return fmt.Sprintf("got %d pods, want %d", len(names), n)
		}
		return ""
	})
	return names
}

func waitStatus(t *testing.T, client *fake.Clientset, name string, want appsv1.ReplicaSetStatus) {
	t.Helper()
	eventually(t, func() string {
		rs, err := client.AppsV1().ReplicaSets("default").Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return err.Error()
		}
		return cmp.Diff(want, rs.Status)
	})
}

func setReplicas(t *testing.T, client *fake.Clientset, name string, n int32) {
	t.Helper()
	rs, err := client.AppsV1().ReplicaSets("default").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rs.Spec.Replicas = &n
	rs.Generation++
	if _, err := client.AppsV1().ReplicaSets("default").Update(context.Background(), rs, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestCreatesPods(t *testing.T) {
	client := newClient(newRS("web", 3))
	rec := start(t, client)
	names := waitOwned(t, client, "rs-web", 3)
	for _, n := range names {
		if !strings.HasPrefix(n, "web-") {
			t.Errorf("pod name %q: want prefix web-", n)
		}
		pod, _ := client.CoreV1().Pods("default").Get(context.Background(), n, metav1.GetOptions{})
		ref := metav1.GetControllerOf(pod)
		if ref.Kind != "ReplicaSet" || ref.Name != "web" || ref.BlockOwnerDeletion == nil || !*ref.BlockOwnerDeletion {
			t.Errorf("pod %s controller ref: got %+v", n, ref)
		}
		if diff := cmp.Diff(map[string]string{"app": "web", "tier": "web"}, pod.Labels); diff != "" {
			t.Errorf("pod labels (-want +got):\n%s", diff)
		}
	}
	waitStatus(t, client, "web", appsv1.ReplicaSetStatus{Replicas: 3, FullyLabeledReplicas: 3, ObservedGeneration: 1})
	eventually(t, func() string {
		n := 0
		for _, e := range rec.List() {
			if strings.HasPrefix(e, "Normal SuccessfulCreate Created pod: web-") {
				n++
			}
		}
		if n != 3 {
			return fmt.Sprintf("got %d SuccessfulCreate events, want 3: %v", n, rec.List())
		}
		return ""
	})
}

func TestHealsAfterDeletion(t *testing.T) {
	client := newClient(newRS("web", 3))
	start(t, client)
	before := waitOwned(t, client, "rs-web", 3)
	if err := client.CoreV1().Pods("default").Delete(context.Background(), before[0], metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() string {
		after := ownedPods(t, client, "rs-web")
		if len(after) != 3 {
			return fmt.Sprintf("got %d pods, want 3", len(after))
		}
		for _, n := range after {
			if n == before[0] {
				return "deleted pod still listed"
			}
		}
		return ""
	})
}

func TestScale(t *testing.T) {
	client := newClient(newRS("web", 10))
	start(t, client)
	for _, tc := range []struct {
		name string
		n    int32
	}{{"to 10", 10}, {"to 0", 0}, {"back to 10", 10}, {"to 4", 4}} {
		t.Run(tc.name, func(t *testing.T) {
			setReplicas(t, client, "web", tc.n)
			waitOwned(t, client, "rs-web", int(tc.n))
		})
	}
}

func TestAdoptAndRelease(t *testing.T) {
	orphan := func(name string, lbls map[string]string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID(name), Labels: lbls}}
	}
	client := newClient(
		newRS("web", 3),
		orphan("a", map[string]string{"app": "web"}),
		orphan("b", map[string]string{"app": "web", "extra": "x"}),
		orphan("other", map[string]string{"app": "db"}),
	)
	start(t, client)
	names := waitOwned(t, client, "rs-web", 3)
	if names[0] != "a" || names[1] != "b" {
		t.Fatalf("got owned %v, want a and b adopted", names)
	}
	other, _ := client.CoreV1().Pods("default").Get(context.Background(), "other", metav1.GetOptions{})
	if len(other.OwnerReferences) != 0 {
		t.Errorf("non-matching pod adopted: %+v", other.OwnerReferences)
	}
	// A pod whose labels stop matching is released and replaced.
	a, _ := client.CoreV1().Pods("default").Get(context.Background(), "a", metav1.GetOptions{})
	a.Labels = map[string]string{"app": "debug"}
	if _, err := client.CoreV1().Pods("default").Update(context.Background(), a, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() string {
		a, _ := client.CoreV1().Pods("default").Get(context.Background(), "a", metav1.GetOptions{})
		if len(a.OwnerReferences) != 0 {
			return fmt.Sprintf("pod a not released: labels %v, owners %v", a.Labels, a.OwnerReferences)
		}
		if got := ownedPods(t, client, "rs-web"); len(got) != 3 {
			return fmt.Sprintf("got %d owned pods, want 3", len(got))
		}
		return ""
	})
}

func TestReadyAndAvailable(t *testing.T) {
	client := newClient(newRS("web", 2))
	start(t, client)
	names := waitOwned(t, client, "rs-web", 2)
	pod, _ := client.CoreV1().Pods("default").Get(context.Background(), names[0], metav1.GetOptions{})
	pod.Status.Phase = corev1.PodRunning
	pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.Now()}}
	if _, err := client.CoreV1().Pods("default").UpdateStatus(context.Background(), pod, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, client, "web", appsv1.ReplicaSetStatus{Replicas: 2, FullyLabeledReplicas: 2, ReadyReplicas: 1, AvailableReplicas: 1, ObservedGeneration: 1})
}

func TestDeleteFirst(t *testing.T) {
	ready := func(at int64) []corev1.PodCondition {
		return []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(time.Unix(at, 0))}}
	}
	pod := func(name, node string, phase corev1.PodPhase, conds []corev1.PodCondition, created int64) *corev1.Pod {
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.NewTime(time.Unix(created, 0))},
			Spec:       corev1.PodSpec{NodeName: node},
			Status:     corev1.PodStatus{Phase: phase, Conditions: conds},
		}
	}
	for _, tc := range []struct {
		name string
		a, b *corev1.Pod
	}{
		{"unassigned first", pod("a", "", corev1.PodRunning, nil, 1), pod("b", "n", corev1.PodRunning, nil, 1)},
		{"pending before running", pod("a", "n", corev1.PodPending, nil, 1), pod("b", "n", corev1.PodRunning, nil, 1)},
		{"not ready first", pod("a", "n", corev1.PodRunning, nil, 1), pod("b", "n", corev1.PodRunning, ready(5), 1)},
		{"ready for less time first", pod("a", "n", corev1.PodRunning, ready(9), 1), pod("b", "n", corev1.PodRunning, ready(5), 1)},
		{"newer first", pod("a", "n", corev1.PodRunning, nil, 9), pod("b", "n", corev1.PodRunning, nil, 1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !deleteFirst(tc.a, tc.b) || deleteFirst(tc.b, tc.a) {
				t.Errorf("got %s not strictly before %s", tc.a.Name, tc.b.Name)
			}
		})
	}
}

package daemonset

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestCalculateStatus(t *testing.T) {
	now := time.Unix(10000, 0)
	gen := int64(2)
	pod := func(name, hash, tmplGen string, readyFor time.Duration, age time.Duration) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.NewTime(now.Add(-age)),
			Labels: map[string]string{RevisionHashLabel: hash, TemplateGenerationLabel: tmplGen}}, Spec: corev1.PodSpec{NodeName: "x"}}
		if readyFor >= 0 {
			p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue,
				LastTransitionTime: metav1.NewTime(now.Add(-readyFor))}}
		}
		return p
	}
	ds := newDS(func(ds *appsv1.DaemonSet) {
		ds.Spec.Template.Spec.NodeSelector = map[string]string{"role": "worker"}
		ds.Spec.MinReadySeconds = 30
	})
	st := &state{ds: ds, hash: "cur", gen: &gen,
		nodes: []*corev1.Node{worker("available", nil), worker("fresh", nil), worker("old", nil), worker("empty", nil),
			testNode("elsewhere", nil), worker("by-generation", nil)},
		byNode: map[string][]*corev1.Pod{
			"available": {pod("a", "cur", "2", time.Hour, time.Hour)},
			// Ready, not yet for minReadySeconds.
			"fresh": {pod("f", "cur", "2", time.Second, time.Hour)},
			// The oldest pod of a node counts: an old, unready one.
			"old":           {pod("o2", "cur", "2", time.Hour, time.Minute), pod("o1", "old", "1", -1, time.Hour)},
			"elsewhere":     {pod("e", "cur", "2", time.Hour, time.Hour)},
			"by-generation": {pod("g", "other", "2", time.Hour, time.Hour)},
		},
	}
	got := calculateStatus(st, now)
	want := appsv1.DaemonSetStatus{DesiredNumberScheduled: 5, CurrentNumberScheduled: 4, NumberReady: 3, NumberAvailable: 2,
		UpdatedNumberScheduled: 3, NumberUnavailable: 3, NumberMisscheduled: 1}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("status (-want +got):\n%s", diff)
	}
}

func TestBackoff(t *testing.T) {
	now := time.Unix(0, 0)
	b := newBackoff(func() time.Time { return now })
	check := func(step string, wantDelay time.Duration, wantWaiting bool) {
		t.Helper()
		if d, w := b.wait("k"); d != wantDelay || w != wantWaiting {
			t.Errorf("%s: got delay %v waiting %v, want %v %v", step, d, w, wantDelay, wantWaiting)
		}
	}
	check("never failed", 0, false)
	b.next("k")
	check("just failed", time.Second, true)
	now = now.Add(time.Second)
	check("after the delay", time.Second, false)
	b.next("k")
	check("failed again", 2*time.Second, true)
	for range 20 {
		b.next("k")
	}
	check("capped", failedBackoffMax, true)
	now = now.Add(2*failedBackoffMax + time.Second)
	b.next("other") // drops the expired entry
	check("expired", 0, false)
}

package nodelifecycle

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func TestDesiredTaints(t *testing.T) {
	earlier := metav1.NewTime(t0.Add(-time.Hour))
	now := metav1.NewTime(t0)
	user := corev1.Taint{Key: "dedicated", Value: "db", Effect: corev1.TaintEffectNoSchedule}
	unreachable := []corev1.Taint{
		{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoSchedule},
		{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoExecute, TimeAdded: &earlier},
	}
	tests := []struct {
		name        string
		current     []corev1.Taint
		key         string
		want        []corev1.Taint
		wantChanged bool
	}{
		{name: "nothing to do", current: []corev1.Taint{user}, want: []corev1.Taint{user}},
		{name: "adds both effects", current: []corev1.Taint{user}, key: corev1.TaintNodeUnreachable, wantChanged: true,
			want: []corev1.Taint{user,
				{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoSchedule},
				{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoExecute, TimeAdded: &now}}},
		{name: "keeps timeAdded", current: unreachable, key: corev1.TaintNodeUnreachable, want: unreachable},
		{name: "removes", current: append([]corev1.Taint{user}, unreachable...), wantChanged: true, want: []corev1.Taint{user}},
		{name: "switches key", current: unreachable, key: corev1.TaintNodeNotReady, wantChanged: true,
			want: []corev1.Taint{
				{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoSchedule},
				{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoExecute, TimeAdded: &now}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, changed := desiredTaints(tc.current, tc.key, t0)
			if changed != tc.wantChanged {
				t.Errorf("changed: got %v, want %v", changed, tc.wantChanged)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("taints (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEvictionTime(t *testing.T) {
	added := metav1.NewTime(t0)
	taints := []corev1.Taint{
		{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoSchedule},
		{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoExecute, TimeAdded: &added},
	}
	secs := func(s int64) *int64 { return &s }
	tests := []struct {
		name        string
		tolerations []corev1.Toleration
		want        time.Duration
		wantEvict   bool
	}{
		{name: "no toleration uses the default timeout", want: time.Minute, wantEvict: true},
		{name: "tolerationSeconds", wantEvict: true, want: 300 * time.Second, tolerations: []corev1.Toleration{
			{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: secs(300)}}},
		{name: "shortest matching toleration", wantEvict: true, want: 10 * time.Second, tolerations: []corev1.Toleration{
			{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, TolerationSeconds: secs(300)},
			{Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: secs(10)}}},
		{name: "negative seconds evict at once", wantEvict: true, tolerations: []corev1.Toleration{
			{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, TolerationSeconds: secs(-5)}}},
		{name: "tolerated forever", tolerations: []corev1.Toleration{
			{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute}}},
		{name: "wildcard toleration", tolerations: []corev1.Toleration{{Operator: corev1.TolerationOpExists}}},
		{name: "non-matching toleration ignored", want: time.Minute, wantEvict: true, tolerations: []corev1.Toleration{
			{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists},
			{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pod := &corev1.Pod{Spec: corev1.PodSpec{Tolerations: tc.tolerations}}
			at, evict := evictionTime(pod, taints, time.Minute, time.Time{})
			if evict != tc.wantEvict {
				t.Fatalf("evict: got %v, want %v", evict, tc.wantEvict)
			}
			if evict && !at.Equal(t0.Add(tc.want)) {
				t.Errorf("eviction time: got %v, want %v", at, t0.Add(tc.want))
			}
		})
	}
}

package replicaset

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func errStrings(errs field.ErrorList) []string {
	var out []string
	for _, e := range errs {
		out = append(out, e.Error())
	}
	return out
}

func newReplicaSet(mutate func(*appsv1.ReplicaSet)) *appsv1.ReplicaSet {
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: "web-1", Namespace: "default", ResourceVersion: "3"},
		Spec: appsv1.ReplicaSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx"}}},
			},
		},
	}
	if mutate != nil {
		mutate(rs)
	}
	s := Strategy{}
	s.Default(rs)
	s.PrepareForCreate(context.Background(), rs)
	return rs
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*appsv1.ReplicaSet)
		want   []string
	}{
		{name: "valid"},
		{
			name:   "empty selector",
			mutate: func(rs *appsv1.ReplicaSet) { rs.Spec.Selector = &metav1.LabelSelector{} },
			want:   []string{"spec.selector: Invalid value: {}: empty selector is invalid for deployment"},
		},
		{
			name:   "selector mismatch",
			mutate: func(rs *appsv1.ReplicaSet) { rs.Spec.Template.Labels = nil },
			want:   []string{"spec.template.metadata.labels: Invalid value: null: `selector` does not match template `labels`"},
		},
		{
			name:   "negative replicas",
			mutate: func(rs *appsv1.ReplicaSet) { n := int32(-2); rs.Spec.Replicas = &n },
			want:   []string{"spec.replicas: Invalid value: -2: must be greater than or equal to 0"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := errStrings((Strategy{}).Validate(context.Background(), newReplicaSet(tc.mutate)))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("errors mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDefaultsAndUpdate(t *testing.T) {
	old := newReplicaSet(nil)
	if *old.Spec.Replicas != 1 || old.Generation != 1 {
		t.Fatalf("got replicas %d generation %d, want 1 and 1", *old.Spec.Replicas, old.Generation)
	}
	old.Status.Replicas = 1
	s := Strategy{}
	rs := old.DeepCopy()
	rs.Status = appsv1.ReplicaSetStatus{}
	three := int32(3)
	rs.Spec.Replicas = &three
	s.PrepareForUpdate(context.Background(), rs, old)
	if rs.Generation != 2 || rs.Status.Replicas != 1 {
		t.Errorf("got generation %d status.replicas %d, want 2 and 1", rs.Generation, rs.Status.Replicas)
	}
	rs.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web", "x": "y"}}
	rs.Spec.Template.Labels["x"] = "y"
	got := errStrings(s.ValidateUpdate(context.Background(), rs, old))
	want := []string{`spec.selector: Invalid value: {"matchLabels":{"app":"web","x":"y"}}: field is immutable`}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("errors mismatch (-want +got):\n%s", diff)
	}
}

func TestStatusScaleFields(t *testing.T) {
	old := newReplicaSet(nil)
	rs := old.DeepCopy()
	rs.Status = appsv1.ReplicaSetStatus{Replicas: 2, FullyLabeledReplicas: 3}
	got := errStrings(StatusStrategy{}.ValidateUpdate(context.Background(), rs, old))
	want := []string{"status.fullyLabeledReplicas: Invalid value: 3: cannot be greater than status.replicas"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("errors mismatch (-want +got):\n%s", diff)
	}
	r := Resource()
	if !cmp.Equal(r.ShortNames, []string{"rs"}) || r.Scale == nil || r.StatusStrategy == nil {
		t.Fatalf("unexpected resource %+v", r)
	}
	spec, status, sel := r.Scale.Get(rs)
	if spec != 1 || status != 2 || sel != "app=web" {
		t.Errorf("scale: got %d %d %q", spec, status, sel)
	}
	wantFields := fields.Set{"metadata.name": "web-1", "metadata.namespace": "default", "status.replicas": "2"}
	if diff := cmp.Diff(wantFields, r.Fields(rs)); diff != "" {
		t.Errorf("fields mismatch (-want +got):\n%s", diff)
	}
}

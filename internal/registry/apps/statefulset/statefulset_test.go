package statefulset

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func errStrings(errs field.ErrorList) []string {
	var out []string
	for _, e := range errs {
		out = append(out, e.Error())
	}
	return out
}

func newStatefulSet(mutate func(*appsv1.StatefulSet)) *appsv1.StatefulSet {
	s := &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "default", ResourceVersion: "9"},
		Spec: appsv1.StatefulSetSpec{
			ServiceName: "db",
			Selector:    &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "db"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "db", Image: "postgres",
					VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}}}},
			},
			VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{ObjectMeta: metav1.ObjectMeta{Name: "data"}}},
		},
	}
	if mutate != nil {
		mutate(s)
	}
	st := Strategy{}
	st.Default(s)
	st.PrepareForCreate(context.Background(), s)
	return s
}

func TestDefault(t *testing.T) {
	s := newStatefulSet(nil)
	one, ten, zero := int32(1), int32(10), int32(0)
	fs := corev1.PersistentVolumeFilesystem
	want := appsv1.StatefulSetSpec{
		Replicas:             &one,
		Selector:             s.Spec.Selector,
		Template:             s.Spec.Template,
		ServiceName:          "db",
		PodManagementPolicy:  appsv1.OrderedReadyPodManagement,
		UpdateStrategy:       appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType, RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{Partition: &zero}},
		RevisionHistoryLimit: &ten,
		PersistentVolumeClaimRetentionPolicy: &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{
			WhenDeleted: appsv1.RetainPersistentVolumeClaimRetentionPolicyType, WhenScaled: appsv1.RetainPersistentVolumeClaimRetentionPolicyType},
		VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{ObjectMeta: metav1.ObjectMeta{Name: "data"},
			Spec: corev1.PersistentVolumeClaimSpec{VolumeMode: &fs}, Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimPending}}},
	}
	if diff := cmp.Diff(want, s.Spec); diff != "" {
		t.Errorf("spec mismatch (-want +got):\n%s", diff)
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*appsv1.StatefulSet)
		want   []string
	}{
		{name: "valid"},
		{
			name:   "name must be a DNS label",
			mutate: func(s *appsv1.StatefulSet) { s.Name = "db.v1" },
			want:   []string{`metadata.name: Invalid value: "db.v1": must not contain dots`},
		},
		{
			name:   "empty selector",
			mutate: func(s *appsv1.StatefulSet) { s.Spec.Selector = &metav1.LabelSelector{} },
			want:   []string{"spec.selector: Invalid value: {}: empty selector is invalid for statefulset"},
		},
		{
			name:   "pod management policy",
			mutate: func(s *appsv1.StatefulSet) { s.Spec.PodManagementPolicy = "Random" },
			want:   []string{`spec.podManagementPolicy: Invalid value: "Random": must be 'OrderedReady' or 'Parallel'`},
		},
		{
			name: "max unavailable zero",
			mutate: func(s *appsv1.StatefulSet) {
				z := intstr.FromInt32(0)
				s.Spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateStatefulSetStrategy{MaxUnavailable: &z}
			},
			want: []string{"spec.updateStrategy.rollingUpdate.maxUnavailable: Invalid value: 0: cannot be 0"},
		},
		{
			name: "on delete with rolling update",
			mutate: func(s *appsv1.StatefulSet) {
				s.Spec.UpdateStrategy = appsv1.StatefulSetUpdateStrategy{Type: appsv1.OnDeleteStatefulSetStrategyType,
					RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{}}
			},
			want: []string{"spec.updateStrategy.rollingUpdate: Invalid value: {}: only allowed for updateStrategy 'RollingUpdate'"},
		},
		{
			name: "retention policy",
			mutate: func(s *appsv1.StatefulSet) {
				s.Spec.PersistentVolumeClaimRetentionPolicy = &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{WhenDeleted: "Keep"}
			},
			want: []string{`spec.persistentVolumeClaimRetentionPolicy.whenDeleted: Unsupported value: "Keep": supported values: "Retain", "Delete"`},
		},
		{
			name: "restart policy and deadline",
			mutate: func(s *appsv1.StatefulSet) {
				s.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever
				d := int64(5)
				s.Spec.Template.Spec.ActiveDeadlineSeconds = &d
			},
			want: []string{
				`spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"`,
				"spec.template.spec.activeDeadlineSeconds: Forbidden: activeDeadlineSeconds in StatefulSet is not Supported",
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := errStrings((Strategy{}).Validate(context.Background(), newStatefulSet(tc.mutate)))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("errors mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestUpdate(t *testing.T) {
	old := newStatefulSet(nil)
	for _, tc := range []struct {
		name   string
		mutate func(*appsv1.StatefulSet)
		want   []string
	}{
		{name: "scale and image", mutate: func(s *appsv1.StatefulSet) {
			n := int32(3)
			s.Spec.Replicas = &n
			s.Spec.Template.Spec.Containers[0].Image = "postgres:17"
		}},
		{
			name:   "service name",
			mutate: func(s *appsv1.StatefulSet) { s.Spec.ServiceName = "other" },
			want: []string{"spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', " +
				"'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := old.DeepCopy()
			tc.mutate(s)
			st := Strategy{}
			st.PrepareForUpdate(context.Background(), s, old)
			if s.Generation != 2 {
				t.Errorf("generation: got %d, want 2", s.Generation)
			}
			got := errStrings(st.ValidateUpdate(context.Background(), s, old))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("errors mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestStatusAndScale(t *testing.T) {
	old := newStatefulSet(nil)
	old.Status.CollisionCount = new(int32)
	*old.Status.CollisionCount = 2
	s := old.DeepCopy()
	s.Status = appsv1.StatefulSetStatus{Replicas: 1, ReadyReplicas: 2}
	got := errStrings(StatusStrategy{}.ValidateUpdate(context.Background(), s, old))
	want := []string{
		"status.readyReplicas: Invalid value: 2: cannot be greater than status.replicas",
		"status.collisionCount: Invalid value: 0: cannot be decremented",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("errors mismatch (-want +got):\n%s", diff)
	}
	r := Resource()
	if !cmp.Equal(r.ShortNames, []string{"sts"}) || r.Scale == nil {
		t.Fatalf("unexpected resource %+v", r)
	}
	r.Scale.Set(s, 4)
	if spec, status, sel := r.Scale.Get(s); spec != 4 || status != 1 || sel != "app=db" {
		t.Errorf("scale: got %d %d %q", spec, status, sel)
	}
}

package deployment

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

func newDeployment(mutate func(*appsv1.Deployment)) *appsv1.Deployment {
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", ResourceVersion: "7"},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx"}}},
			},
		},
	}
	if mutate != nil {
		mutate(d)
	}
	s := Strategy{}
	s.Default(d)
	s.PrepareForCreate(context.Background(), d)
	return d
}

func TestDefault(t *testing.T) {
	d := newDeployment(nil)
	one, ten, six := int32(1), int32(10), int32(600)
	quarter := intstr.FromString("25%")
	want := appsv1.DeploymentSpec{
		Replicas: &one,
		Selector: d.Spec.Selector,
		Template: d.Spec.Template,
		Strategy: appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType,
			RollingUpdate: &appsv1.RollingUpdateDeployment{MaxUnavailable: &quarter, MaxSurge: &quarter}},
		RevisionHistoryLimit:    &ten,
		ProgressDeadlineSeconds: &six,
	}
	if diff := cmp.Diff(want, d.Spec); diff != "" {
		t.Errorf("spec mismatch (-want +got):\n%s", diff)
	}
	if d.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyAlways || d.Spec.Template.Spec.EnableServiceLinks != nil {
		t.Errorf("template defaults: restartPolicy %q enableServiceLinks %v", d.Spec.Template.Spec.RestartPolicy, d.Spec.Template.Spec.EnableServiceLinks)
	}
	if d.Generation != 1 {
		t.Errorf("generation: got %d, want 1", d.Generation)
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*appsv1.Deployment)
		want   []string
	}{
		{name: "valid"},
		{
			name:   "no selector",
			mutate: func(d *appsv1.Deployment) { d.Spec.Selector = nil },
			want: []string{
				"spec.selector: Required value",
				"spec.template.metadata.labels: Invalid value: {\"app\":\"web\"}: `selector` does not match template `labels`",
			},
		},
		{
			name:   "empty selector",
			mutate: func(d *appsv1.Deployment) { d.Spec.Selector = &metav1.LabelSelector{} },
			want:   []string{"spec.selector: Invalid value: {}: empty selector is invalid for deployment"},
		},
		{
			name:   "selector mismatch",
			mutate: func(d *appsv1.Deployment) { d.Spec.Template.Labels = map[string]string{"app": "db"} },
			want:   []string{"spec.template.metadata.labels: Invalid value: {\"app\":\"db\"}: `selector` does not match template `labels`"},
		},
		{
			name:   "negative replicas",
			mutate: func(d *appsv1.Deployment) { n := int32(-1); d.Spec.Replicas = &n },
			want:   []string{"spec.replicas: Invalid value: -1: must be greater than or equal to 0"},
		},
		{
			name:   "template restart policy",
			mutate: func(d *appsv1.Deployment) { d.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyOnFailure },
			want:   []string{`spec.template.spec.restartPolicy: Unsupported value: "OnFailure": supported values: "Always"`},
		},
		{
			name:   "missing image",
			mutate: func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "" },
			want:   []string{"spec.template.spec.containers[0].image: Required value"},
		},
		{
			name: "both zero",
			mutate: func(d *appsv1.Deployment) {
				zero := intstr.FromInt32(0)
				d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{MaxUnavailable: &zero, MaxSurge: &zero}
			},
			want: []string{"spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 0: may not be 0 when `maxSurge` is 0"},
		},
		{
			name: "over 100 percent",
			mutate: func(d *appsv1.Deployment) {
				v := intstr.FromString("150%")
				d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{MaxUnavailable: &v}
			},
			want: []string{`spec.strategy.rollingUpdate.maxUnavailable: Invalid value: "150%": must not be greater than 100%`},
		},
		{
			name: "recreate with rolling update",
			mutate: func(d *appsv1.Deployment) {
				d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType, RollingUpdate: &appsv1.RollingUpdateDeployment{}}
			},
			want: []string{"spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'"},
		},
		{
			name:   "progress deadline",
			mutate: func(d *appsv1.Deployment) { d.Spec.MinReadySeconds = 600 },
			want:   []string{"spec.progressDeadlineSeconds: Invalid value: 600: must be greater than minReadySeconds"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newDeployment(tc.mutate)
			got := errStrings((Strategy{}).Validate(context.Background(), d))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("errors mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestUpdate(t *testing.T) {
	old := newDeployment(nil)
	s := Strategy{}

	d := old.DeepCopy()
	d.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web", "v": "2"}}
	d.Spec.Template.Labels["v"] = "2"
	got := errStrings(s.ValidateUpdate(context.Background(), d, old))
	want := []string{`spec.selector: Invalid value: {"matchLabels":{"app":"web","v":"2"}}: field is immutable`}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("errors mismatch (-want +got):\n%s", diff)
	}

	old.Status.Replicas = 3
	d = old.DeepCopy()
	d.Status = appsv1.DeploymentStatus{}
	d.Annotations = map[string]string{"note": "x"}
	s.PrepareForUpdate(context.Background(), d, old)
	if d.Generation != 2 || d.Status.Replicas != 3 {
		t.Errorf("annotation change: got generation %d status.replicas %d, want 2 and 3", d.Generation, d.Status.Replicas)
	}
}

func TestStatusAndScale(t *testing.T) {
	old := newDeployment(nil)
	d := old.DeepCopy()
	d.Spec.Paused = true
	d.Status = appsv1.DeploymentStatus{Replicas: 1, ReadyReplicas: 1, AvailableReplicas: 2}
	ss := StatusStrategy{}
	ss.PrepareForUpdate(context.Background(), d, old)
	if d.Spec.Paused {
		t.Errorf("status write changed spec")
	}
	got := errStrings(ss.ValidateUpdate(context.Background(), d, old))
	want := []string{
		"status.availableReplicas: Invalid value: 2: cannot be greater than status.replicas",
		"status.availableReplicas: Invalid value: 2: cannot be greater than readyReplicas",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("errors mismatch (-want +got):\n%s", diff)
	}

	r := Resource()
	if r.Group != "apps" || !cmp.Equal(r.ShortNames, []string{"deploy"}) || r.Scale == nil {
		t.Fatalf("unexpected resource %+v", r)
	}
	r.Scale.Set(d, 5)
	spec, status, sel := r.Scale.Get(d)
	if spec != 5 || status != 1 || sel != "app=web" {
		t.Errorf("scale: got %d %d %q, want 5 1 \"app=web\"", spec, status, sel)
	}
}

package daemonset

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

// newDaemonSet returns a defaulted, prepared daemon set after mutate.
func newDaemonSet(mutate func(*appsv1.DaemonSet)) *appsv1.DaemonSet {
	ds := &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "agent", Namespace: "kube-system", ResourceVersion: "9"},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "agent"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "agent"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "agent", Image: "agnhost:2.53"}}},
			},
		},
	}
	if mutate != nil {
		mutate(ds)
	}
	st := Strategy{}
	st.Default(ds)
	st.PrepareForCreate(context.Background(), ds)
	return ds
}

func TestDefault(t *testing.T) {
	ds := newDaemonSet(nil)
	one, zero := intstr.FromInt32(1), intstr.FromInt32(0)
	ten := int32(10)
	want := appsv1.DaemonSetSpec{
		Selector: ds.Spec.Selector,
		Template: ds.Spec.Template,
		UpdateStrategy: appsv1.DaemonSetUpdateStrategy{Type: appsv1.RollingUpdateDaemonSetStrategyType,
			RollingUpdate: &appsv1.RollingUpdateDaemonSet{MaxUnavailable: &one, MaxSurge: &zero}},
		RevisionHistoryLimit: &ten,
	}
	if diff := cmp.Diff(want, ds.Spec); diff != "" {
		t.Errorf("spec (-want +got):\n%s", diff)
	}
	if got := ds.Spec.Template.Spec.RestartPolicy; got != corev1.RestartPolicyAlways {
		t.Errorf("template restartPolicy: got %q, want Always", got)
	}
	if got := ds.Annotations[TemplateGenerationAnnotation]; got != "1" || ds.Generation != 1 {
		t.Errorf("templateGeneration %q, generation %d: want 1 and 1", got, ds.Generation)
	}
	// OnDelete gets no rollingUpdate.
	od := newDaemonSet(func(ds *appsv1.DaemonSet) { ds.Spec.UpdateStrategy.Type = appsv1.OnDeleteDaemonSetStrategyType })
	if od.Spec.UpdateStrategy.RollingUpdate != nil {
		t.Errorf("OnDelete rollingUpdate: got %+v, want nil", od.Spec.UpdateStrategy.RollingUpdate)
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*appsv1.DaemonSet)
		want   []string
	}{
		{name: "valid"},
		{name: "on delete", mutate: func(ds *appsv1.DaemonSet) { ds.Spec.UpdateStrategy.Type = appsv1.OnDeleteDaemonSetStrategyType }},
		{
			name:   "name must be a DNS subdomain",
			mutate: func(ds *appsv1.DaemonSet) { ds.Name = "Agent" },
			want: []string{`metadata.name: Invalid value: "Agent": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric ` +
				`characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for ` +
				`validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`},
		},
		{
			name:   "selector does not match template",
			mutate: func(ds *appsv1.DaemonSet) { ds.Spec.Template.Labels = map[string]string{"app": "other"} },
			want:   []string{"spec.template.metadata.labels: Invalid value: {\"app\":\"other\"}: `selector` does not match template `labels`"},
		},
		{
			name:   "missing selector",
			mutate: func(ds *appsv1.DaemonSet) { ds.Spec.Selector = nil },
			want:   []string{"spec.template.metadata.labels: Invalid value: {\"app\":\"agent\"}: `selector` does not match template `labels`"},
		},
		{
			name:   "empty selector",
			mutate: func(ds *appsv1.DaemonSet) { ds.Spec.Selector = &metav1.LabelSelector{} },
			want:   []string{"spec.selector: Invalid value: {}: empty selector is invalid for daemonset"},
		},
		{
			name: "restart policy, deadline and min ready seconds",
			mutate: func(ds *appsv1.DaemonSet) {
				ds.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
				d := int64(30)
				ds.Spec.Template.Spec.ActiveDeadlineSeconds = &d
				ds.Spec.MinReadySeconds = -1
			},
			want: []string{
				`spec.template.spec.restartPolicy: Unsupported value: "OnFailure": supported values: "Always"`,
				"spec.template.spec.activeDeadlineSeconds: Forbidden: activeDeadlineSeconds in DaemonSet is not Supported",
				"spec.minReadySeconds: Invalid value: -1: must be greater than or equal to 0",
			},
		},
		{
			name:   "pod template",
			mutate: func(ds *appsv1.DaemonSet) { ds.Spec.Template.Spec.Containers[0].Image = "" },
			want:   []string{"spec.template.spec.containers[0].image: Required value"},
		},
		{
			name: "surge and unavailable both set",
			mutate: func(ds *appsv1.DaemonSet) {
				s := intstr.FromString("10%")
				ds.Spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateDaemonSet{MaxSurge: &s}
			},
			want: []string{`spec.updateStrategy.rollingUpdate.maxSurge: Invalid value: "10%": may not be set when maxUnavailable is non-zero`},
		},
		{
			name: "surge and unavailable both zero",
			mutate: func(ds *appsv1.DaemonSet) {
				z := intstr.FromInt32(0)
				ds.Spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateDaemonSet{MaxUnavailable: &z}
			},
			want: []string{"spec.updateStrategy.rollingUpdate.maxUnavailable: Required value: cannot be 0 when maxSurge is 0"},
		},
		{
			name: "surge only, over 100%",
			mutate: func(ds *appsv1.DaemonSet) {
				z, s := intstr.FromInt32(0), intstr.FromString("120%")
				ds.Spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateDaemonSet{MaxUnavailable: &z, MaxSurge: &s}
			},
			want: []string{`spec.updateStrategy.rollingUpdate.maxSurge: Invalid value: "120%": must not be greater than 100%`},
		},
		{
			name: "negative unavailable",
			mutate: func(ds *appsv1.DaemonSet) {
				n := intstr.FromInt32(-1)
				ds.Spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateDaemonSet{MaxUnavailable: &n}
			},
			want: []string{"spec.updateStrategy.rollingUpdate.maxUnavailable: Invalid value: -1: must be greater than or equal to 0"},
		},
		{
			name:   "unknown strategy",
			mutate: func(ds *appsv1.DaemonSet) { ds.Spec.UpdateStrategy.Type = "Recreate" },
			want:   []string{`spec.updateStrategy: Unsupported value: {"type":"Recreate"}: supported values: "RollingUpdate", "OnDelete"`},
		},
		{
			name:   "revision history limit",
			mutate: func(ds *appsv1.DaemonSet) { n := int32(-2); ds.Spec.RevisionHistoryLimit = &n },
			want:   []string{"spec.revisionHistoryLimit: Invalid value: -2: must be greater than or equal to 0"},
		},
		{
			name:   "template generation given by the client",
			mutate: func(ds *appsv1.DaemonSet) { ds.Annotations = map[string]string{TemplateGenerationAnnotation: "7"} },
		},
		{
			name:   "template generation not an integer",
			mutate: func(ds *appsv1.DaemonSet) { ds.Annotations = map[string]string{TemplateGenerationAnnotation: "seven"} },
			want:   []string{`metadata.annotations[deprecated.daemonset.template.generation]: Invalid value: "seven": must be an integer`},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := errStrings(Strategy{}.Validate(context.Background(), newDaemonSet(tc.mutate)))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

func TestUpdate(t *testing.T) {
	old := newDaemonSet(nil)
	for _, tc := range []struct {
		name               string
		mutate             func(*appsv1.DaemonSet)
		generation         int64
		templateGeneration string
		want               []string
	}{
		{
			name:       "image",
			mutate:     func(ds *appsv1.DaemonSet) { ds.Spec.Template.Spec.Containers[0].Image = "agnhost:2.54" },
			generation: 2, templateGeneration: "2",
		},
		{
			name:       "strategy only",
			mutate:     func(ds *appsv1.DaemonSet) { ds.Spec.MinReadySeconds = 5 },
			generation: 2, templateGeneration: "1",
		},
		{
			name:       "labels only",
			mutate:     func(ds *appsv1.DaemonSet) { ds.Labels = map[string]string{"team": "net"} },
			generation: 1, templateGeneration: "1",
		},
		{
			name: "client sets template generation",
			mutate: func(ds *appsv1.DaemonSet) {
				ds.Annotations[TemplateGenerationAnnotation] = "40"
			},
			generation: 1, templateGeneration: "1",
		},
		{
			name: "selector is immutable",
			mutate: func(ds *appsv1.DaemonSet) {
				ds.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "agent", "tier": "node"}}
				ds.Spec.Template.Labels["tier"] = "node"
			},
			generation: 2, templateGeneration: "2",
			want: []string{`spec.selector: Invalid value: {"matchLabels":{"app":"agent","tier":"node"}}: field is immutable`},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ds := old.DeepCopy()
			tc.mutate(ds)
			st := Strategy{}
			st.Default(ds)
			st.PrepareForUpdate(context.Background(), ds, old)
			if ds.Generation != tc.generation || ds.Annotations[TemplateGenerationAnnotation] != tc.templateGeneration {
				t.Errorf("generation %d, templateGeneration %q: want %d and %q", ds.Generation,
					ds.Annotations[TemplateGenerationAnnotation], tc.generation, tc.templateGeneration)
			}
			got := errStrings(st.ValidateUpdate(context.Background(), ds, old))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTemplateGenerationChecks(t *testing.T) {
	old := newDaemonSet(nil)
	changed := old.DeepCopy()
	changed.Spec.Template.Spec.Containers[0].Image = "agnhost:2.54"
	withGen := func(ds *appsv1.DaemonSet, gen string) *appsv1.DaemonSet {
		ds = ds.DeepCopy()
		ds.Annotations[TemplateGenerationAnnotation] = gen
		return ds
	}
	for _, tc := range []struct {
		name string
		ds   *appsv1.DaemonSet
		want []string
	}{
		{name: "template and generation move together", ds: withGen(changed, "2")},
		{name: "decremented", ds: withGen(old, "0"),
			want: []string{"spec.templateGeneration: Invalid value: 0: must not be decremented"}},
		{name: "template changed without generation", ds: withGen(changed, "1"),
			want: []string{"spec.templateGeneration: Invalid value: 1: must be incremented upon template update"}},
		{name: "generation without template", ds: withGen(old, "2"),
			want: []string{"spec.templateGeneration: Invalid value: 2: must not be incremented without template update"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := errStrings(ValidateDaemonSetUpdate(tc.ds, old))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

func TestStatus(t *testing.T) {
	old := newDaemonSet(nil)
	old.Status.CollisionCount = new(int32)
	*old.Status.CollisionCount = 2
	ds := old.DeepCopy()
	ds.Spec.MinReadySeconds = 9
	ds.Annotations[TemplateGenerationAnnotation] = "5"
	ds.Status = appsv1.DaemonSetStatus{DesiredNumberScheduled: 2, NumberReady: -1, ObservedGeneration: 1}
	st := StatusStrategy{}
	st.PrepareForUpdate(context.Background(), ds, old)
	if ds.Spec.MinReadySeconds != 0 || ds.Annotations[TemplateGenerationAnnotation] != "1" {
		t.Errorf("status write changed spec: minReadySeconds %d, templateGeneration %q", ds.Spec.MinReadySeconds,
			ds.Annotations[TemplateGenerationAnnotation])
	}
	want := []string{
		"status.numberReady: Invalid value: -1: must be greater than or equal to 0",
		"status.collisionCount: Invalid value: 0: cannot be decremented",
	}
	if diff := cmp.Diff(want, errStrings(st.ValidateUpdate(context.Background(), ds, old))); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
	r := Resource()
	if !cmp.Equal(r.ShortNames, []string{"ds"}) || r.Scale != nil || r.StatusStrategy == nil || !cmp.Equal(r.Categories, []string{"all"}) {
		t.Errorf("unexpected resource %+v", r)
	}
}

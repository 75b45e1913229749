package namespace

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func errStrings(errs field.ErrorList) []string {
	var out []string
	for _, e := range errs {
		out = append(out, e.Error())
	}
	return out
}

// created returns a namespace as stored after a create request.
func created(mutate func(*corev1.Namespace)) *corev1.Namespace {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-a"}}
	if mutate != nil {
		mutate(ns)
	}
	s := Strategy{}
	s.Default(ns)
	s.PrepareForCreate(context.Background(), ns)
	return ns
}

func TestCreate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*corev1.Namespace)
		want   corev1.Namespace
	}{
		{
			name: "defaults",
			want: corev1.Namespace{
				ObjectMeta: metav1.ObjectMeta{Name: "team-a", Labels: map[string]string{"kubernetes.io/metadata.name": "team-a"}},
				Spec:       corev1.NamespaceSpec{Finalizers: []corev1.FinalizerName{"kubernetes"}},
				Status:     corev1.NamespaceStatus{Phase: corev1.NamespaceActive},
			},
		},
		{
			name: "client status, label and finalizers",
			mutate: func(ns *corev1.Namespace) {
				ns.Labels = map[string]string{"kubernetes.io/metadata.name": "other", "team": "a"}
				ns.Spec.Finalizers = []corev1.FinalizerName{"example.com/wait"}
				ns.Status.Phase = corev1.NamespaceTerminating
			},
			want: corev1.Namespace{
				ObjectMeta: metav1.ObjectMeta{Name: "team-a", Labels: map[string]string{"kubernetes.io/metadata.name": "team-a", "team": "a"}},
				Spec:       corev1.NamespaceSpec{Finalizers: []corev1.FinalizerName{"example.com/wait", "kubernetes"}},
				Status:     corev1.NamespaceStatus{Phase: corev1.NamespaceActive},
			},
		},
		{
			name: "generated name labelled at prepare",
			mutate: func(ns *corev1.Namespace) {
				ns.Name, ns.GenerateName = "", "tmp-"
				Default(ns)
				ns.Name = "tmp-abcde"
			},
			want: corev1.Namespace{
				ObjectMeta: metav1.ObjectMeta{Name: "tmp-abcde", GenerateName: "tmp-", Labels: map[string]string{"kubernetes.io/metadata.name": "tmp-abcde"}},
				Spec:       corev1.NamespaceSpec{Finalizers: []corev1.FinalizerName{"kubernetes"}},
				Status:     corev1.NamespaceStatus{Phase: corev1.NamespaceActive},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(&tc.want, created(tc.mutate)); diff != "" {
				t.Errorf("namespace mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*corev1.Namespace)
		want   []string
	}{
		{name: "valid"},
		{
			name:   "dotted name",
			mutate: func(ns *corev1.Namespace) { ns.Name = "a.b" },
			want:   []string{`metadata.name: Invalid value: "a.b": must not contain dots`},
		},
		{
			name:   "namespace set",
			mutate: func(ns *corev1.Namespace) { ns.Namespace = "default" },
			want:   []string{`metadata.namespace: Forbidden: not allowed on this type`},
		},
		{
			name:   "unqualified finalizer",
			mutate: func(ns *corev1.Namespace) { ns.Spec.Finalizers = []corev1.FinalizerName{"mine"} },
			want:   []string{`spec.finalizers: Invalid value: "mine": name is neither a standard finalizer name nor is it fully qualified`},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ns := created(tc.mutate)
			got := errStrings(Strategy{}.Validate(context.Background(), ns))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("errors mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestUpdateKeepsFinalizersAndStatus(t *testing.T) {
	old := created(nil)
	old.ResourceVersion = "3"
	ns := old.DeepCopy()
	ns.Spec.Finalizers = nil
	ns.Status.Phase = corev1.NamespaceTerminating
	ns.Labels = map[string]string{"team": "b"}
	s := Strategy{}
	s.Default(ns)
	s.PrepareForUpdate(context.Background(), ns, old)
	if diff := cmp.Diff(old.Spec, ns.Spec); diff != "" {
		t.Errorf("spec mismatch (-want +got):\n%s", diff)
	}
	if ns.Status.Phase != corev1.NamespaceActive {
		t.Errorf("got phase %q, want Active", ns.Status.Phase)
	}
	if got := ns.Labels["kubernetes.io/metadata.name"]; got != "team-a" {
		t.Errorf("got name label %q, want team-a", got)
	}
	if errs := s.ValidateUpdate(context.Background(), ns, old); len(errs) != 0 {
		t.Errorf("got errors %v, want none", errs)
	}
}

func TestStatusUpdate(t *testing.T) {
	now := metav1.Now()
	for _, tc := range []struct {
		name     string
		deleting bool
		phase    corev1.NamespacePhase
		want     []string
	}{
		{name: "active", phase: corev1.NamespaceActive},
		{name: "terminating while deleting", deleting: true, phase: corev1.NamespaceTerminating},
		{
			name:  "terminating without deletion",
			phase: corev1.NamespaceTerminating,
			want:  []string{"status.Phase: Invalid value: \"Terminating\": may only be 'Active' if `deletionTimestamp` is empty"},
		},
		{
			name:     "active while deleting",
			deleting: true,
			phase:    corev1.NamespaceActive,
			want:     []string{"status.Phase: Invalid value: \"Active\": may only be 'Terminating' if `deletionTimestamp` is not empty"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			old := created(nil)
			old.ResourceVersion = "3"
			if tc.deleting {
				old.DeletionTimestamp = &now
			}
			ns := old.DeepCopy()
			ns.Status.Phase = tc.phase
			ns.Spec.Finalizers = nil
			s := StatusStrategy{}
			s.PrepareForUpdate(context.Background(), ns, old)
			if len(ns.Spec.Finalizers) != 1 {
				t.Errorf("got finalizers %v, want the stored ones", ns.Spec.Finalizers)
			}
			got := errStrings(s.ValidateUpdate(context.Background(), ns, old))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("errors mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFinalize(t *testing.T) {
	old := created(nil)
	old.ResourceVersion = "3"
	ns := old.DeepCopy()
	ns.Spec.Finalizers = []corev1.FinalizerName{"bad finalizer"}
	ns.Status.Phase = ""
	s := FinalizeStrategy{}
	s.PrepareForUpdate(context.Background(), ns, old)
	if ns.Status.Phase != corev1.NamespaceActive {
		t.Errorf("got phase %q, want the stored Active", ns.Status.Phase)
	}
	got := errStrings(s.ValidateUpdate(context.Background(), ns, old))
	want := []string{
		`spec.finalizers[0]: Invalid value: "bad finalizer": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')`,
		`spec.finalizers[0]: Invalid value: "bad finalizer": name is neither a standard finalizer name nor is it fully qualified`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("errors mismatch (-want +got):\n%s", diff)
	}
	ns.Spec.Finalizers = nil
	if errs := s.ValidateUpdate(context.Background(), ns, old); len(errs) != 0 {
		t.Errorf("got errors %v, want none", errs)
	}
}

func TestResource(t *testing.T) {
	r := Resource()
	if r.Namespaced || r.StatusStrategy == nil {
		t.Errorf("got namespaced=%v status=%v, want cluster-scoped with status", r.Namespaced, r.StatusStrategy)
	}
	if diff := cmp.Diff([]string{"create", "delete", "get", "list", "patch", "update", "watch"}, r.Verbs); diff != "" {
		t.Errorf("verbs mismatch (-want +got):\n%s", diff)
	}
	f := r.Fields(created(nil))
	if f.Get("status.phase") != "Active" || f.Get("metadata.name") != "team-a" || f.Get("name") != "team-a" {
		t.Errorf("got fields %v", f)
	}
}

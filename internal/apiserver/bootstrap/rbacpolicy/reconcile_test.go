package rbacpolicy

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/component-helpers/auth/rbac/validation"
)

// ignoreServerFields leaves out what the (fake) server fills in.
var ignoreServerFields = cmp.Options{
	cmpopts.IgnoreFields(metav1.ObjectMeta{}, "ResourceVersion", "UID", "CreationTimestamp", "ManagedFields"),
	cmpopts.IgnoreTypes(metav1.TypeMeta{}),
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

func reconcile(t *testing.T, client *fake.Clientset) {
	t.Helper()
	if err := Reconcile(context.Background(), client, discard()); err != nil {
		t.Fatalf("Reconcile: %v", err)
	}
}

func TestReconcileCreatesEverything(t *testing.T) {
	ctx := context.Background()
	client := fake.NewClientset()
	reconcile(t, client)

	for _, want := range ClusterRoles() {
		got, err := client.RbacV1().ClusterRoles().Get(ctx, want.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(&want, got, ignoreServerFields); diff != "" {
			t.Errorf("ClusterRole %s (-want +got):\n%s", want.Name, diff)
		}
		if got.Labels[BootstrappingLabel] != BootstrappingValue || got.Annotations[rbacv1.AutoUpdateAnnotationKey] != "true" {
			t.Errorf("ClusterRole %s: got labels %v annotations %v, want the bootstrapping label and autoupdate", got.Name,
				got.Labels, got.Annotations)
		}
	}
	for _, want := range ClusterRoleBindings() {
		got, err := client.RbacV1().ClusterRoleBindings().Get(ctx, want.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(&want, got, ignoreServerFields); diff != "" {
			t.Errorf("ClusterRoleBinding %s (-want +got):\n%s", want.Name, diff)
		}
	}
	for _, want := range Roles() {
		got, err := client.RbacV1().Roles(want.Namespace).Get(ctx, want.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(&want, got, ignoreServerFields); diff != "" {
			t.Errorf("Role %s (-want +got):\n%s", want.Name, diff)
		}
	}
	for _, want := range RoleBindings() {
		got, err := client.RbacV1().RoleBindings(want.Namespace).Get(ctx, want.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(&want, got, ignoreServerFields); diff != "" {
			t.Errorf("RoleBinding %s (-want +got):\n%s", want.Name, diff)
		}
	}
	if _, err := client.CoreV1().Namespaces().Get(ctx, SystemNamespace, metav1.GetOptions{}); err != nil {
		t.Errorf("namespace %s: %v", SystemNamespace, err)
	}
}

func TestReconcileIsIdempotent(t *testing.T) {
	client := fake.NewClientset()
	reconcile(t, client)
	client.ClearActions()
	reconcile(t, client)
	for _, a := range client.Actions() {
		if a.GetVerb() != "get" {
			t.Errorf("second run: got %s %s, want only reads", a.GetVerb(), a.GetResource().Resource)
		}
	}
}

// defaultClusterRole returns the default named name.
func defaultClusterRole(t *testing.T, name string) rbacv1.ClusterRole {
	t.Helper()
	i := slices.IndexFunc(ClusterRoles(), func(r rbacv1.ClusterRole) bool { return r.Name == name })
	if i < 0 {
		t.Fatalf("no default ClusterRole %s", name)
	}
	return ClusterRoles()[i]
}

func defaultClusterRoleBinding(t *testing.T, name string) rbacv1.ClusterRoleBinding {
	t.Helper()
	i := slices.IndexFunc(ClusterRoleBindings(), func(b rbacv1.ClusterRoleBinding) bool { return b.Name == name })
	if i < 0 {
		t.Fatalf("no default ClusterRoleBinding %s", name)
	}
	return ClusterRoleBindings()[i]
}

// coveredBy is a cmp option comparing rule lists by what they grant, as
// reconciliation adds missing rules broken down to one verb and resource
// each.
var coveredBy = cmp.Comparer(func(a, b []rbacv1.PolicyRule) bool {
	ab, _ := validation.Covers(a, b)
	ba, _ := validation.Covers(b, a)
	return ab && ba
})

func TestReconcileCompletesStoredObjects(t *testing.T) {
	custom := rbacv1.PolicyRule{Verbs: []string{"get"}, APIGroups: []string{"example.com"}, Resources: []string{"widgets"}}
	extraUser := rbacv1.Subject{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "alice"}
	otherSelector := metav1.LabelSelector{MatchLabels: map[string]string{"example.com/aggregate-to-admin": "true"}}
	annotated := func(v string) map[string]string { return map[string]string{rbacv1.AutoUpdateAnnotationKey: v} }

	for _, tc := range []struct {
		name     string
		existing runtime.Object
		// want returns what must be stored afterwards; rules compare by
		// what they grant.
		want func(t *testing.T) runtime.Object
	}{
		{
			name: "missing rules added, own rules kept",
			existing: &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "system:basic-user", Annotations: annotated("true")},
				Rules: []rbacv1.PolicyRule{custom}},
			want: func(t *testing.T) runtime.Object {
				r := defaultClusterRole(t, "system:basic-user")
				r.Rules = append([]rbacv1.PolicyRule{custom}, r.Rules...)
				return &r
			},
		},
		{
			name: "no annotation counts as autoupdate",
			existing: &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "system:kube-dns"},
				Rules: []rbacv1.PolicyRule{custom}},
			want: func(t *testing.T) runtime.Object {
				r := defaultClusterRole(t, "system:kube-dns")
				r.Rules = append([]rbacv1.PolicyRule{custom}, r.Rules...)
				return &r
			},
		},
		{
			name: "autoupdate=false left alone",
			existing: &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "system:discovery", Annotations: annotated("false")},
				Rules: []rbacv1.PolicyRule{custom}},
			want: func(*testing.T) runtime.Object {
				return &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "system:discovery", Annotations: annotated("false")},
					Rules: []rbacv1.PolicyRule{custom}}
			},
		},
		{
			name: "missing aggregation selectors added, aggregated rules kept",
			existing: &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "admin", Annotations: annotated("true")},
				AggregationRule: &rbacv1.AggregationRule{ClusterRoleSelectors: []metav1.LabelSelector{otherSelector}},
				Rules:           []rbacv1.PolicyRule{custom}},
			want: func(t *testing.T) runtime.Object {
				r := defaultClusterRole(t, "admin")
				r.AggregationRule.ClusterRoleSelectors = append([]metav1.LabelSelector{otherSelector},
					r.AggregationRule.ClusterRoleSelectors...)
				r.Rules = []rbacv1.PolicyRule{custom}
				return &r
			},
		},
		{
			name: "missing subjects added, own subjects kept",
			existing: &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "system:public-info-viewer", Annotations: annotated("true")},
				RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "system:public-info-viewer"},
				Subjects: []rbacv1.Subject{extraUser}},
			want: func(t *testing.T) runtime.Object {
				b := defaultClusterRoleBinding(t, "system:public-info-viewer")
				b.Subjects = append([]rbacv1.Subject{extraUser}, b.Subjects...)
				return &b
			},
		},
		{
			name: "binding with autoupdate=false left alone",
			existing: &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "system:basic-user", Annotations: annotated("false")},
				RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "system:basic-user"}},
			want: func(*testing.T) runtime.Object {
				return &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "system:basic-user", Annotations: annotated("false")},
					RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "system:basic-user"}}
			},
		},
		{
			name: "binding to another role recreated",
			existing: &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "system:kube-dns", Annotations: annotated("true")},
				RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "cluster-admin"},
				Subjects: []rbacv1.Subject{extraUser}},
			want: func(t *testing.T) runtime.Object {
				b := defaultClusterRoleBinding(t, "system:kube-dns")
				return &b
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client := fake.NewClientset(tc.existing)
			reconcile(t, client)
			want := tc.want(t)
			got := stored(t, client, want)
			if diff := cmp.Diff(want, got, ignoreServerFields, coveredBy); diff != "" {
				t.Errorf("stored object (-want +got):\n%s", diff)
			}
			// Own rules stay where they were.
			if r, ok := tc.existing.(*rbacv1.ClusterRole); ok && len(r.Rules) > 0 {
				if diff := cmp.Diff(r.Rules[0], got.(*rbacv1.ClusterRole).Rules[0]); diff != "" {
					t.Errorf("first rule (-want +got):\n%s", diff)
				}
			}
		})
	}
}

// stored returns the stored object of want's kind and name.
func stored(t *testing.T, client *fake.Clientset, want runtime.Object) runtime.Object {
	t.Helper()
	name := want.(metav1.Object).GetName()
	var got runtime.Object
	var err error
	switch want.(type) {
	case *rbacv1.ClusterRole:
		got, err = client.RbacV1().ClusterRoles().Get(context.Background(), name, metav1.GetOptions{})
	case *rbacv1.ClusterRoleBinding:
		got, err = client.RbacV1().ClusterRoleBindings().Get(context.Background(), name, metav1.GetOptions{})
	default:
		t.Fatalf("unexpected %T", want)
	}
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestReconcileRetriesConflicts(t *testing.T) {
	client := fake.NewClientset(&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "system:kube-dns"}})
	conflicts := 2
	client.PrependReactor("update", "clusterroles", func(k8stesting.Action) (bool, runtime.Object, error) {
		if conflicts == 0 {
			return false, nil, nil
		}
		conflicts--
		return true, nil, apierrors.NewConflict(rbacv1.Resource("clusterroles"), "system:kube-dns",
			errors.New("the object has been modified"))
	})
	reconcile(t, client)
	want := defaultClusterRole(t, "system:kube-dns")
	if diff := cmp.Diff(&want, stored(t, client, &want), ignoreServerFields, coveredBy); diff != "" {
		t.Errorf("after two conflicts (-want +got):\n%s", diff)
	}
	if conflicts != 0 {
		t.Errorf("got %d conflicts left, want every one met", conflicts)
	}
}

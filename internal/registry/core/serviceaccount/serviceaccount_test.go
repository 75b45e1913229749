package serviceaccount

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

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		sa   corev1.ServiceAccount
		want []string
	}{
		{name: "valid", sa: corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: "default"}}},
		{
			name: "no namespace",
			sa:   corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "builder"}},
			want: []string{"metadata.namespace: Required value"},
		},
		{
			name: "bad name",
			sa:   corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "-x", Namespace: "default"}},
			want: []string{`metadata.name: Invalid value: "-x": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := errStrings(Strategy{}.Validate(context.Background(), &tc.sa))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("errors mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPrepareCleansSecretReferences(t *testing.T) {
	sa := &corev1.ServiceAccount{
		ObjectMeta: metav1.ObjectMeta{Name: "builder", Namespace: "default", ResourceVersion: "4"},
		Secrets:    []corev1.ObjectReference{{Name: "tok", Namespace: "default", Kind: "Secret", UID: "u1"}},
	}
	Strategy{}.PrepareForCreate(context.Background(), sa)
	if diff := cmp.Diff([]corev1.ObjectReference{{Name: "tok"}}, sa.Secrets); diff != "" {
		t.Errorf("create secrets mismatch (-want +got):\n%s", diff)
	}
	upd := sa.DeepCopy()
	upd.Secrets = append(upd.Secrets, corev1.ObjectReference{Name: "tok2", APIVersion: "v1"})
	Strategy{}.PrepareForUpdate(context.Background(), upd, sa)
	if diff := cmp.Diff([]corev1.ObjectReference{{Name: "tok"}, {Name: "tok2"}}, upd.Secrets); diff != "" {
		t.Errorf("update secrets mismatch (-want +got):\n%s", diff)
	}
	if errs := (Strategy{}).ValidateUpdate(context.Background(), upd, sa); len(errs) != 0 {
		t.Errorf("got errors %v, want none", errs)
	}
}

func TestResource(t *testing.T) {
	r := Resource(TokenConfig{})
	if diff := cmp.Diff([]string{"sa"}, r.ShortNames); diff != "" || r.Resource != "serviceaccounts" {
		t.Errorf("got %s %v, want serviceaccounts [sa]", r.Resource, r.ShortNames)
	}
}

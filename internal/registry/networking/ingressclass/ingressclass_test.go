package ingressclass

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
)

func errStrings(errs field.ErrorList) []string {
	var out []string
	for _, e := range errs {
		out = append(out, e.Error())
	}
	return out
}

func created(mutate func(*networkingv1.IngressClass)) *networkingv1.IngressClass {
	c := &networkingv1.IngressClass{
		ObjectMeta: metav1.ObjectMeta{Name: "nginx"},
		Spec: networkingv1.IngressClassSpec{
			Controller: "example.com/ingress-nginx",
			Parameters: &networkingv1.IngressClassParametersReference{APIGroup: ptr.To("k8s.example.com"), Kind: "IngressParameters", Name: "external-lb"},
		},
	}
	if mutate != nil {
		mutate(c)
	}
	Strategy{}.Default(c)
	Strategy{}.PrepareForCreate(context.Background(), c)
	return c
}

func TestDefault(t *testing.T) {
	c := created(nil)
	if got := ptr.Deref(c.Spec.Parameters.Scope, ""); got != networkingv1.IngressClassParametersReferenceScopeCluster {
		t.Errorf("got scope %q, want Cluster", got)
	}
	if c.Generation != 1 {
		t.Errorf("got generation %d, want 1", c.Generation)
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*networkingv1.IngressClass)
		want   []string
	}{
		{name: "valid"},
		{name: "no parameters", mutate: func(c *networkingv1.IngressClass) { c.Spec.Parameters = nil }},
		{
			name:   "no controller",
			mutate: func(c *networkingv1.IngressClass) { c.Spec.Controller = "" },
			want:   []string{"spec.controller: Required value"},
		},
		{
			name:   "controller without domain",
			mutate: func(c *networkingv1.IngressClass) { c.Spec.Controller = "nginx" },
			want:   []string{`spec.controller: Invalid value: "nginx": must be a domain-prefixed path (such as "acme.io/foo")`},
		},
		{
			name:   "controller too long",
			mutate: func(c *networkingv1.IngressClass) { c.Spec.Controller = "example.com/" + strings.Repeat("a", 250) },
			want:   []string{"spec.controller: Too long: may not be more than 250 bytes"},
		},
		{
			name: "namespace scope without namespace",
			mutate: func(c *networkingv1.IngressClass) {
				c.Spec.Parameters.Scope = ptr.To(networkingv1.IngressClassParametersReferenceScopeNamespace)
			},
			want: []string{"spec.parameters.namespace: Required value: `parameters.scope` is set to 'Namespace'"},
		},
		{
			name: "cluster scope with namespace",
			mutate: func(c *networkingv1.IngressClass) {
				c.Spec.Parameters.Scope = ptr.To(networkingv1.IngressClassParametersReferenceScopeCluster)
				c.Spec.Parameters.Namespace = ptr.To("default")
			},
			want: []string{"spec.parameters.namespace: Forbidden: `parameters.scope` is set to 'Cluster'"},
		},
		{
			name:   "unknown scope",
			mutate: func(c *networkingv1.IngressClass) { c.Spec.Parameters.Scope = ptr.To("Global") },
			want:   []string{`spec.parameters.scope: Unsupported value: "Global": supported values: "Cluster", "Namespace"`},
		},
		{
			name: "bad parameters",
			mutate: func(c *networkingv1.IngressClass) {
				c.Spec.Parameters.APIGroup = ptr.To("Bad")
				c.Spec.Parameters.Kind = ""
				c.Spec.Parameters.Name = ".."
			},
			want: []string{
				`spec.parameters.apiGroup: Invalid value: "Bad": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
				"spec.parameters.kind: Required value",
				`spec.parameters.name: Invalid value: "..": may not be '..'`,
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := errStrings(Strategy{}.Validate(context.Background(), created(tc.mutate)))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("errors mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestUpdate(t *testing.T) {
	old := created(nil)
	old.ResourceVersion = "7"
	upd := old.DeepCopy()
	upd.Spec.Parameters.Name = "internal-lb"
	Strategy{}.PrepareForUpdate(context.Background(), upd, old)
	if upd.Generation != 2 {
		t.Errorf("got generation %d, want 2", upd.Generation)
	}
	if errs := (Strategy{}).ValidateUpdate(context.Background(), upd, old); len(errs) != 0 {
		t.Errorf("parameters change: got errors %v", errs)
	}
	upd.Spec.Controller = "example.com/other"
	got := errStrings(Strategy{}.ValidateUpdate(context.Background(), upd, old))
	want := []string{`spec.controller: Invalid value: "example.com/other": field is immutable`}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("controller change: errors mismatch (-want +got):\n%s", diff)
	}
}

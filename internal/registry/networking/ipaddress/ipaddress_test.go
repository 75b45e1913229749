package ipaddress

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	networkingv1 "k8s.io/api/networking/v1"
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

func newIP(name string, mutate func(*networkingv1.ParentReference)) *networkingv1.IPAddress {
	ref := &networkingv1.ParentReference{Group: "", Resource: "services", Namespace: "default", Name: "web"}
	if mutate != nil {
		mutate(ref)
	}
	return &networkingv1.IPAddress{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: networkingv1.IPAddressSpec{ParentRef: ref}}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		ip   *networkingv1.IPAddress
		want []string
	}{
		{name: "IPv4", ip: newIP("10.96.0.10", nil)},
		{name: "IPv6", ip: newIP("fd00::a", nil)},
		{name: "broadcast, cluster-scoped parent", ip: newIP("255.255.255.255", func(r *networkingv1.ParentReference) {
			*r = networkingv1.ParentReference{Group: "mygroup", Resource: "myresources", Name: "bar"}
		})},
		{
			name: "not an IP",
			ip:   newIP("web", nil),
			want: []string{`metadata.name: Invalid value: "web": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)`},
		},
		{
			name: "not canonical",
			ip:   newIP("fd00:0::a", nil),
			want: []string{`metadata.name: Invalid value: "fd00:0::a": must be in canonical form ("fd00::a")`},
		},
		{
			name: "leading zeros",
			ip:   newIP("10.96.0.010", nil),
			want: []string{`metadata.name: Invalid value: "10.96.0.010": must not have leading 0s`},
		},
		{
			name: "no parent",
			ip:   &networkingv1.IPAddress{ObjectMeta: metav1.ObjectMeta{Name: "10.96.0.10"}},
			want: []string{"spec.parentRef: Required value"},
		},
		{
			name: "incomplete parent",
			ip: newIP("10.96.0.10", func(r *networkingv1.ParentReference) {
				*r = networkingv1.ParentReference{Group: "Bad Group", Namespace: "a/b"}
			}),
			want: []string{
				`spec.parentRef.group: Invalid value: "Bad Group": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
				"spec.parentRef.resource: Required value",
				"spec.parentRef.name: Required value",
				`spec.parentRef.namespace: Invalid value: "a/b": may not contain '/'`,
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := errStrings(Strategy{}.Validate(context.Background(), tc.ip))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("errors mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidateUpdate(t *testing.T) {
	old := newIP("10.96.0.10", nil)
	old.ResourceVersion = "4"
	labelled := old.DeepCopy()
	labelled.Labels = map[string]string{"a": "b"}
	if errs := (Strategy{}).ValidateUpdate(context.Background(), labelled, old); len(errs) != 0 {
		t.Errorf("label change: got errors %v", errs)
	}
	moved := old.DeepCopy()
	moved.Spec.ParentRef.Name = "db"
	got := errStrings(Strategy{}.ValidateUpdate(context.Background(), moved, old))
	want := []string{`spec.parentRef: Invalid value: {"resource":"services","namespace":"default","name":"db"}: field is immutable`}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("parent change: errors mismatch (-want +got):\n%s", diff)
	}
}

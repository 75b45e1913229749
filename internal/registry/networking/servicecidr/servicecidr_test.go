package servicecidr

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

func newCIDR(cidrs ...string) *networkingv1.ServiceCIDR {
	return &networkingv1.ServiceCIDR{ObjectMeta: metav1.ObjectMeta{Name: "extra"}, Spec: networkingv1.ServiceCIDRSpec{CIDRs: cidrs}}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cidrs []string
		want  []string
	}{
		{name: "IPv4", cidrs: []string{"10.100.0.0/16"}},
		{name: "dual-stack", cidrs: []string{"10.100.0.0/16", "fd00:100::/108"}},
		{name: "none", want: []string{"spec.cidrs: Required value: at least one CIDR required"}},
		{
			name:  "three",
			cidrs: []string{"10.100.0.0/16", "fd00:100::/108", "10.101.0.0/16"},
			want:  []string{`spec.cidrs: Invalid value: {"cidrs":["10.100.0.0/16","fd00:100::/108","10.101.0.0/16"]}: may only hold up to 2 values`},
		},
		{
			name:  "same family",
			cidrs: []string{"10.100.0.0/16", "10.101.0.0/16"},
			want:  []string{`spec.cidrs: Invalid value: ["10.100.0.0/16","10.101.0.0/16"]: may specify no more than one IP for each IP family, i.e 192.168.0.0/24 and 2001:db8::/64`},
		},
		{
			name:  "host bits",
			cidrs: []string{"10.100.0.1/16"},
			want:  []string{`spec.cidrs[0]: Invalid value: "10.100.0.1/16": must not have bits set beyond the prefix length`},
		},
		{
			name:  "not canonical",
			cidrs: []string{"fd00:0::/108"},
			want:  []string{`spec.cidrs[0]: Invalid value: "fd00:0::/108": must be in canonical form ("fd00::/108")`},
		},
		{
			name:  "garbage",
			cidrs: []string{"ten/8"},
			want:  []string{`spec.cidrs[0]: Invalid value: "ten/8": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)`},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCIDR(tc.cidrs...)
			Strategy{}.PrepareForCreate(context.Background(), c)
			got := errStrings(Strategy{}.Validate(context.Background(), c))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("errors mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidateUpdate(t *testing.T) {
	for _, tc := range []struct {
		name     string
		old, upd []string
		want     []string
	}{
		{name: "unchanged", old: []string{"10.100.0.0/16"}, upd: []string{"10.100.0.0/16"}},
		{name: "add the other family", old: []string{"10.100.0.0/16"}, upd: []string{"10.100.0.0/16", "fd00:100::/108"}},
		{
			name: "changed",
			old:  []string{"10.100.0.0/16"}, upd: []string{"10.101.0.0/16"},
			want: []string{`spec.cidrs[0]: Invalid value: "10.101.0.0/16": field is immutable`},
		},
		{
			name: "add the same family",
			old:  []string{"10.100.0.0/16"}, upd: []string{"10.100.0.0/16", "10.101.0.0/16"},
			want: []string{`spec.cidrs: Invalid value: ["10.100.0.0/16","10.101.0.0/16"]: may specify no more than one IP for each IP family, i.e 192.168.0.0/24 and 2001:db8::/64`},
		},
		{
			name: "drop one",
			old:  []string{"10.100.0.0/16", "fd00:100::/108"}, upd: []string{"10.100.0.0/16"},
			want: []string{`spec.cidrs: Invalid value: ["10.100.0.0/16"]: field is immutable`},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			old := newCIDR(tc.old...)
			old.ResourceVersion = "3"
			upd := newCIDR(tc.upd...)
			upd.ResourceVersion = "3"
			got := errStrings(Strategy{}.ValidateUpdate(context.Background(), upd, old))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("errors mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestStrategies(t *testing.T) {
	ctx := context.Background()
	ready := networkingv1.ServiceCIDRStatus{Conditions: []metav1.Condition{{Type: networkingv1.ServiceCIDRConditionReady, Status: metav1.ConditionTrue}}}
	c := newCIDR("10.100.0.0/16")
	c.Status = ready
	Strategy{}.PrepareForCreate(ctx, c)
	if len(c.Status.Conditions) != 0 {
		t.Errorf("create: got status %v, want it cleared", c.Status)
	}
	c.Status = ready
	upd := c.DeepCopy()
	upd.Status = networkingv1.ServiceCIDRStatus{}
	Strategy{}.PrepareForUpdate(ctx, upd, c)
	if !cmp.Equal(upd.Status, ready) {
		t.Errorf("update: got status %v, want the stored one", upd.Status)
	}
	st := c.DeepCopy()
	st.Spec.CIDRs = []string{"10.200.0.0/16"}
	st.Status = networkingv1.ServiceCIDRStatus{}
	StatusStrategy{}.PrepareForUpdate(ctx, st, c)
	if !cmp.Equal(st.Spec, c.Spec) || len(st.Status.Conditions) != 0 {
		t.Errorf("status update: got spec %v status %v, want the stored spec and the new status", st.Spec, st.Status)
	}
}

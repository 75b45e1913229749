package node

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
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

func created(mutate func(*corev1.Node)) *corev1.Node {
	n := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "node-1"},
		Status: corev1.NodeStatus{
			Capacity:  corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2"), corev1.ResourcePods: resource.MustParse("110")},
			Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "10.0.0.1"}},
		},
	}
	if mutate != nil {
		mutate(n)
	}
	s := Strategy{}
	s.Default(n)
	s.PrepareForCreate(context.Background(), n)
	return n
}

func TestDefault(t *testing.T) {
	for _, tc := range []struct {
		name     string
		spec     corev1.NodeSpec
		wantSpec corev1.NodeSpec
	}{
		{name: "empty"},
		{
			name:     "podCIDR only",
			spec:     corev1.NodeSpec{PodCIDR: "10.244.1.0/24"},
			wantSpec: corev1.NodeSpec{PodCIDR: "10.244.1.0/24", PodCIDRs: []string{"10.244.1.0/24"}},
		},
		{
			name:     "podCIDRs win",
			spec:     corev1.NodeSpec{PodCIDR: "10.244.9.0/24", PodCIDRs: []string{"10.244.1.0/24", "fd00::/64"}},
			wantSpec: corev1.NodeSpec{PodCIDR: "10.244.1.0/24", PodCIDRs: []string{"10.244.1.0/24", "fd00::/64"}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := created(func(n *corev1.Node) { n.Spec = tc.spec })
			if diff := cmp.Diff(tc.wantSpec, n.Spec); diff != "" {
				t.Errorf("spec mismatch (-want +got):\n%s", diff)
			}
			if !n.Status.Allocatable.Cpu().Equal(resource.MustParse("2")) {
				t.Errorf("got allocatable %v, want a copy of capacity", n.Status.Allocatable)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*corev1.Node)
		want   []string
	}{
		{name: "valid"},
		{
			name:   "namespace set",
			mutate: func(n *corev1.Node) { n.Namespace = "default" },
			want:   []string{"metadata.namespace: Forbidden: not allowed on this type"},
		},
		{
			name: "taints",
			mutate: func(n *corev1.Node) {
				n.Spec.Taints = []corev1.Taint{
					{Key: "dedicated", Value: "db", Effect: corev1.TaintEffectNoSchedule},
					{Key: "dedicated", Value: "web", Effect: corev1.TaintEffectNoSchedule},
					{Key: "x", Effect: "Sometimes"},
					{Key: "y"},
				}
			},
			want: []string{
				`metadata.taints[1]: Duplicate value: {"key":"dedicated","value":"web","effect":"NoSchedule"}: taints must be unique by key and effect pair`,
				`metadata.taints[2].effect: Unsupported value: "Sometimes": supported values: "NoSchedule", "PreferNoSchedule", "NoExecute"`,
				"metadata.taints[3].effect: Required value",
			},
		},
		{
			name:   "bad cidr",
			mutate: func(n *corev1.Node) { n.Spec.PodCIDRs = []string{"10.244.1.0/33"} },
			want:   []string{`spec.podCIDRs[0]: Invalid value: "10.244.1.0/33": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)`},
		},
		{
			name:   "two v4 cidrs",
			mutate: func(n *corev1.Node) { n.Spec.PodCIDRs = []string{"10.244.1.0/24", "10.244.1.0/24"} },
			want: []string{
				`spec.podCIDRs: Invalid value: ["10.244.1.0/24","10.244.1.0/24"]: may specify no more than one CIDR for each IP family`,
				`spec.podCIDRs[1]: Duplicate value: "10.244.1.0/24"`,
			},
		},
		{
			name: "negative and fractional capacity",
			mutate: func(n *corev1.Node) {
				n.Status.Capacity = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("-1"), corev1.ResourcePods: resource.MustParse("1500m")}
			},
			want: []string{
				`status.capacity.memory: Invalid value: "-1": must be greater than or equal to 0`,
				`status.capacity.pods: Invalid value: "1500m": must be an integer`,
				`status.allocatable.memory: Invalid value: "-1": must be greater than or equal to 0`,
				`status.allocatable.pods: Invalid value: "1500m": must be an integer`,
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

func TestValidateUpdate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		old    func(*corev1.Node)
		mutate func(*corev1.Node)
		want   []string
	}{
		{
			name:   "assign podCIDR",
			mutate: func(n *corev1.Node) { n.Spec.PodCIDR = "10.244.1.0/24"; n.Spec.PodCIDRs = nil },
		},
		{
			name:   "change podCIDR",
			old:    func(n *corev1.Node) { n.Spec.PodCIDRs = []string{"10.244.1.0/24"} },
			mutate: func(n *corev1.Node) { n.Spec.PodCIDRs = []string{"10.244.2.0/24"} },
			want:   []string{`spec.podCIDRs: Forbidden: node updates may not change podCIDR except from "" to valid`},
		},
		{
			name:   "add second family",
			old:    func(n *corev1.Node) { n.Spec.PodCIDRs = []string{"10.244.1.0/24"} },
			mutate: func(n *corev1.Node) { n.Spec.PodCIDRs = []string{"10.244.1.0/24", "fd00::/64"} },
			want:   []string{`spec.podCIDRs: Forbidden: node updates may not change podCIDR except from "" to valid`},
		},
		{
			name:   "change providerID",
			old:    func(n *corev1.Node) { n.Spec.ProviderID = "svcnet://node-1" },
			mutate: func(n *corev1.Node) { n.Spec.ProviderID = "svcnet://node-2" },
			want:   []string{`spec.providerID: Forbidden: node updates may not change providerID except from "" to valid`},
		},
		{
			name:   "cordon",
			mutate: func(n *corev1.Node) { n.Spec.Unschedulable = true },
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			old := created(tc.old)
			old.ResourceVersion = "5"
			n := old.DeepCopy()
			tc.mutate(n)
			s := Strategy{}
			s.Default(n)
			s.PrepareForUpdate(context.Background(), n, old)
			got := errStrings(s.ValidateUpdate(context.Background(), n, old))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("errors mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestStatusUpdate(t *testing.T) {
	old := created(nil)
	old.ResourceVersion = "5"
	n := old.DeepCopy()
	n.Spec.Unschedulable = true
	n.Status.Addresses = append(n.Status.Addresses, n.Status.Addresses[0])
	s := StatusStrategy{}
	s.PrepareForUpdate(context.Background(), n, old)
	if n.Spec.Unschedulable {
		t.Errorf("got unschedulable spec through /status, want the stored spec")
	}
	got := errStrings(s.ValidateUpdate(context.Background(), n, old))
	want := []string{`status.addresses[1]: Duplicate value: {"type":"InternalIP","address":"10.0.0.1"}`}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("errors mismatch (-want +got):\n%s", diff)
	}

	// The main resource keeps the stored status.
	upd := old.DeepCopy()
	upd.Status.Addresses = nil
	Strategy{}.PrepareForUpdate(context.Background(), upd, old)
	if len(upd.Status.Addresses) != 1 {
		t.Errorf("got addresses %v, want the stored ones", upd.Status.Addresses)
	}
}

func TestResource(t *testing.T) {
	r := Resource()
	if r.Namespaced || r.Resource != "nodes" || r.StatusStrategy == nil {
		t.Errorf("got %s namespaced=%v, want cluster-scoped nodes with status", r.Resource, r.Namespaced)
	}
	if diff := cmp.Diff([]string{"no"}, r.ShortNames); diff != "" {
		t.Errorf("short names (-want +got):\n%s", diff)
	}
	f := r.Fields(created(func(n *corev1.Node) { n.Spec.Unschedulable = true }))
	if f.Get("spec.unschedulable") != "true" || f.Get("metadata.name") != "node-1" {
		t.Errorf("got fields %v, want spec.unschedulable=true metadata.name=node-1", f)
	}
}

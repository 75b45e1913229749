package lease

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	coordinationv1 "k8s.io/api/coordination/v1"
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

func newLease(mutate func(*coordinationv1.Lease)) *coordinationv1.Lease {
	l := &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: "node-1", Namespace: "kube-node-lease"},
		Spec:       coordinationv1.LeaseSpec{HolderIdentity: ptr.To("node-1"), LeaseDurationSeconds: ptr.To[int32](40)},
	}
	if mutate != nil {
		mutate(l)
	}
	return l
}

func TestValidateLeaseSpec(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*coordinationv1.Lease)
		want   []string
	}{
		{name: "valid"},
		{
			name:   "zero duration",
			mutate: func(l *coordinationv1.Lease) { l.Spec.LeaseDurationSeconds = ptr.To[int32](0) },
			want:   []string{"spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0"},
		},
		{
			name:   "negative transitions",
			mutate: func(l *coordinationv1.Lease) { l.Spec.LeaseTransitions = ptr.To[int32](-1) },
			want:   []string{"spec.leaseTransitions: Invalid value: -1: must be greater than or equal to 0"},
		},
		{
			name:   "known strategy",
			mutate: func(l *coordinationv1.Lease) { l.Spec.Strategy = ptr.To(coordinationv1.OldestEmulationVersion) },
		},
		{
			name: "qualified strategy",
			mutate: func(l *coordinationv1.Lease) {
				l.Spec.Strategy = ptr.To[coordinationv1.CoordinatedLeaseStrategy]("example.com/Foo")
			},
		},
		{
			name: "unknown strategy",
			mutate: func(l *coordinationv1.Lease) {
				l.Spec.Strategy = ptr.To[coordinationv1.CoordinatedLeaseStrategy]("Newest")
			},
			want: []string{`spec.strategy: Unsupported value: "Newest": supported values: "OldestEmulationVersion"`},
		},
		{
			name:   "preferred holder without strategy",
			mutate: func(l *coordinationv1.Lease) { l.Spec.PreferredHolder = ptr.To("node-2") },
			want:   []string{"spec.preferredHolder: Forbidden: may only be specified if `strategy` is defined"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := errStrings(ValidateLease(newLease(tc.mutate)))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("errors mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestStrategy(t *testing.T) {
	ctx := context.Background()
	l := newLease(func(l *coordinationv1.Lease) {
		l.Spec.Strategy = ptr.To(coordinationv1.OldestEmulationVersion)
		l.Spec.PreferredHolder = ptr.To("node-2")
	})
	s := Strategy{}
	s.PrepareForCreate(ctx, l)
	if l.Spec.Strategy != nil || l.Spec.PreferredHolder != nil {
		t.Errorf("got strategy %v preferredHolder %v, want both dropped", l.Spec.Strategy, l.Spec.PreferredHolder)
	}
	if errs := s.Validate(ctx, l); len(errs) != 0 {
		t.Errorf("got errors %v, want none", errs)
	}
	l.ResourceVersion = "9"
	renewed := l.DeepCopy()
	renewed.Spec.RenewTime = &metav1.MicroTime{}
	renewed.Spec.LeaseTransitions = ptr.To[int32](1)
	s.PrepareForUpdate(ctx, renewed, l)
	if errs := s.ValidateUpdate(ctx, renewed, l); len(errs) != 0 {
		t.Errorf("got errors %v, want none", errs)
	}
	if r := Resource(); r.Group != "coordination.k8s.io" || r.Resource != "leases" || len(r.ShortNames) != 0 {
		t.Errorf("got %s/%s %v, want coordination.k8s.io/leases without short names", r.Group, r.Resource, r.ShortNames)
	}
}

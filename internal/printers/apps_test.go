package printers

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

var testTemplate = corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{
	{Name: "app", Image: "agnhost:2.52"}, {Name: "side", Image: "pause"},
}}}

func TestDeployments(t *testing.T) {
	m := metav1.ObjectMeta{Name: "web", CreationTimestamp: ago(6 * time.Minute)}
	sel := &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}
	tests := []struct {
		name   string
		spec   appsv1.DeploymentSpec
		status appsv1.DeploymentStatus
		want   []any
	}{
		{
			name:   "all ready",
			spec:   appsv1.DeploymentSpec{Replicas: ptrTo[int32](3), Selector: sel, Template: testTemplate},
			status: appsv1.DeploymentStatus{ReadyReplicas: 3, UpdatedReplicas: 3, AvailableReplicas: 3},
			want:   []any{"web", "3/3", int64(3), int64(3), "6m", "app,side", "agnhost:2.52,pause", "app=web"},
		},
		{
			name:   "rolling out",
			spec:   appsv1.DeploymentSpec{Replicas: ptrTo[int32](4), Selector: sel, Template: testTemplate},
			status: appsv1.DeploymentStatus{ReadyReplicas: 2, UpdatedReplicas: 1, AvailableReplicas: 2},
			want:   []any{"web", "2/4", int64(1), int64(2), "6m", "app,side", "agnhost:2.52,pause", "app=web"},
		},
		{
			name: "scaled to zero",
			spec: appsv1.DeploymentSpec{Replicas: ptrTo[int32](0), Selector: sel, Template: testTemplate},
			want: []any{"web", "0/0", int64(0), int64(0), "6m", "app,side", "agnhost:2.52,pause", "app=web"},
		},
		{
			name: "expression selector",
			spec: appsv1.DeploymentSpec{Replicas: ptrTo[int32](1), Template: testTemplate, Selector: &metav1.LabelSelector{
				MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "tier", Operator: metav1.LabelSelectorOpIn, Values: []string{"b", "a"}}}}},
			want: []any{"web", "0/1", int64(0), int64(0), "6m", "app,side", "agnhost:2.52,pause", "tier in (a,b)"},
		},
		{
			name: "invalid selector",
			spec: appsv1.DeploymentSpec{Replicas: ptrTo[int32](1), Template: testTemplate, Selector: &metav1.LabelSelector{
				MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "tier", Operator: "Bogus"}}}},
			want: []any{"web", "0/1", int64(0), int64(0), "6m", "app,side", "agnhost:2.52,pause", "<invalid>"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := &appsv1.Deployment{ObjectMeta: m, Spec: tc.spec, Status: tc.status}
			if diff := cmp.Diff(tc.want, rowOf(t, testPrinter().Deployments, d)); diff != "" {
				t.Errorf("cells (-want +got):\n%s", diff)
			}
		})
	}
}

func TestReplicaSets(t *testing.T) {
	tests := []struct {
		name string
		rs   appsv1.ReplicaSet
		want []any
	}{
		{
			name: "partially ready",
			rs: appsv1.ReplicaSet{
				Spec:   appsv1.ReplicaSetSpec{Replicas: ptrTo[int32](3), Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web", "pod-template-hash": "abc"}}, Template: testTemplate},
				Status: appsv1.ReplicaSetStatus{Replicas: 3, ReadyReplicas: 1},
			},
			want: []any{"web-abc", int64(3), int64(3), int64(1), "6m", "app,side", "agnhost:2.52,pause", "app=web,pod-template-hash=abc"},
		},
		{
			name: "no selector",
			rs:   appsv1.ReplicaSet{Spec: appsv1.ReplicaSetSpec{Replicas: ptrTo[int32](0)}},
			want: []any{"web-abc", int64(0), int64(0), int64(0), "6m", "", "", "<none>"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rs := tc.rs
			rs.ObjectMeta = metav1.ObjectMeta{Name: "web-abc", CreationTimestamp: ago(6 * time.Minute)}
			if diff := cmp.Diff(tc.want, rowOf(t, testPrinter().ReplicaSets, &rs)); diff != "" {
				t.Errorf("cells (-want +got):\n%s", diff)
			}
		})
	}
}

func TestStatefulSets(t *testing.T) {
	ss := &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "db", CreationTimestamp: ago(6 * time.Minute)},
		Spec:       appsv1.StatefulSetSpec{Replicas: ptrTo[int32](3), Template: testTemplate},
		Status:     appsv1.StatefulSetStatus{Replicas: 3, ReadyReplicas: 2},
	}
	want := []any{"db", "2/3", "6m", "app,side", "agnhost:2.52,pause"}
	if diff := cmp.Diff(want, rowOf(t, testPrinter().StatefulSets, ss)); diff != "" {
		t.Errorf("cells (-want +got):\n%s", diff)
	}
}

func TestDaemonSets(t *testing.T) {
	sel := &metav1.LabelSelector{MatchLabels: map[string]string{"app": "agent"}}
	tests := []struct {
		name string
		ds   appsv1.DaemonSet
		want []any
	}{
		{
			name: "rolling out on three nodes",
			ds: appsv1.DaemonSet{
				Spec: appsv1.DaemonSetSpec{Selector: sel, Template: testTemplate},
				Status: appsv1.DaemonSetStatus{DesiredNumberScheduled: 3, CurrentNumberScheduled: 3, NumberReady: 2,
					UpdatedNumberScheduled: 1, NumberAvailable: 2},
			},
			want: []any{"agent", int64(3), int64(3), int64(2), int64(1), int64(2), "<none>", "6m", "app,side", "agnhost:2.52,pause", "app=agent"},
		},
		{
			name: "node selector",
			ds: func() appsv1.DaemonSet {
				tmpl := testTemplate
				tmpl.Spec.NodeSelector = map[string]string{"kubernetes.io/os": "linux", "disk": "ssd"}
				return appsv1.DaemonSet{Spec: appsv1.DaemonSetSpec{Selector: sel, Template: tmpl}}
			}(),
			want: []any{"agent", int64(0), int64(0), int64(0), int64(0), int64(0), "disk=ssd,kubernetes.io/os=linux", "6m", "app,side", "agnhost:2.52,pause", "app=agent"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ds := tc.ds
			ds.ObjectMeta = metav1.ObjectMeta{Name: "agent", CreationTimestamp: ago(6 * time.Minute)}
			if diff := cmp.Diff(tc.want, rowOf(t, testPrinter().DaemonSets, &ds)); diff != "" {
				t.Errorf("cells (-want +got):\n%s", diff)
			}
		})
	}
}

func TestControllerRevisions(t *testing.T) {
	tests := []struct {
		name   string
		owners []metav1.OwnerReference
		want   string
	}{
		{name: "no controller", want: "<none>"},
		{name: "owner that is not the controller", owners: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "StatefulSet", Name: "db"}}, want: "<none>"},
		{name: "apps controller", owners: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "StatefulSet", Name: "db", Controller: ptrTo(true)}}, want: "statefulset.apps/db"},
		{name: "core controller", owners: []metav1.OwnerReference{{APIVersion: "v1", Kind: "Pod", Name: "p", Controller: ptrTo(true)}}, want: "pod/p"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cr := &appsv1.ControllerRevision{ObjectMeta: metav1.ObjectMeta{Name: "db-7d9", OwnerReferences: tc.owners, CreationTimestamp: ago(time.Minute)}, Revision: 2}
			want := []any{"db-7d9", tc.want, int64(2), "60s"}
			if diff := cmp.Diff(want, rowOf(t, testPrinter().ControllerRevisions, cr)); diff != "" {
				t.Errorf("cells (-want +got):\n%s", diff)
			}
		})
	}
}

func TestControllerRevisionBadOwner(t *testing.T) {
	cr := &appsv1.ControllerRevision{ObjectMeta: metav1.ObjectMeta{Name: "x", OwnerReferences: []metav1.OwnerReference{{APIVersion: "a/b/c", Kind: "K", Name: "n", Controller: ptrTo(true)}}}}
	if _, err := testPrinter().ControllerRevisions(t.Context(), cr, registryOpts()); err == nil {
		t.Errorf("got nil error, want one for an unparsable apiVersion")
	}
}

func TestLeases(t *testing.T) {
	tests := []struct {
		name   string
		holder *string
		want   string
	}{
		{name: "held", holder: ptrTo("n1"), want: "n1"},
		{name: "free", want: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "n1", CreationTimestamp: ago(time.Hour)}, Spec: coordinationv1.LeaseSpec{HolderIdentity: tc.holder}}
			want := []any{"n1", tc.want, "60m"}
			if diff := cmp.Diff(want, rowOf(t, testPrinter().Leases, l)); diff != "" {
				t.Errorf("cells (-want +got):\n%s", diff)
			}
		})
	}
}

package printers

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestNodes(t *testing.T) {
	ready := func(s corev1.ConditionStatus) []corev1.NodeCondition {
		return []corev1.NodeCondition{{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse}, {Type: corev1.NodeReady, Status: s}}
	}
	info := corev1.NodeSystemInfo{KubeletVersion: "v1.33.0-svcnet", OSImage: "Debian GNU/Linux 12", KernelVersion: "6.1.0", ContainerRuntimeVersion: "svcnet://0.1"}
	addrs := []corev1.NodeAddress{{Type: corev1.NodeHostName, Address: "n1"}, {Type: corev1.NodeInternalIP, Address: "192.168.1.10"}, {Type: corev1.NodeInternalIP, Address: "192.168.1.11"}, {Type: corev1.NodeExternalIP, Address: "203.0.113.7"}}
	tests := []struct {
		name   string
		labels map[string]string
		spec   corev1.NodeSpec
		status corev1.NodeStatus
		want   []any
	}{
		{
			name:   "ready without roles",
			status: corev1.NodeStatus{Conditions: ready(corev1.ConditionTrue), NodeInfo: info, Addresses: addrs},
			want:   []any{"n1", "Ready", "<none>", "2d2h", "v1.33.0-svcnet", "192.168.1.10", "203.0.113.7", "Debian GNU/Linux 12", "6.1.0", "svcnet://0.1"},
		},
		{
			name:   "not ready",
			status: corev1.NodeStatus{Conditions: ready(corev1.ConditionFalse), NodeInfo: info},
			want:   []any{"n1", "NotReady", "<none>", "2d2h", "v1.33.0-svcnet", "<none>", "<none>", "Debian GNU/Linux 12", "6.1.0", "svcnet://0.1"},
		},
		{
			name:   "ready unknown counts as not ready",
			status: corev1.NodeStatus{Conditions: ready(corev1.ConditionUnknown)},
			want:   []any{"n1", "NotReady", "<none>", "2d2h", "", "<none>", "<none>", "<unknown>", "<unknown>", "<unknown>"},
		},
		{
			name: "no ready condition",
			want: []any{"n1", "Unknown", "<none>", "2d2h", "", "<none>", "<none>", "<unknown>", "<unknown>", "<unknown>"},
		},
		{
			name:   "cordoned",
			spec:   corev1.NodeSpec{Unschedulable: true},
			status: corev1.NodeStatus{Conditions: ready(corev1.ConditionTrue)},
			want:   []any{"n1", "Ready,SchedulingDisabled", "<none>", "2d2h", "", "<none>", "<none>", "<unknown>", "<unknown>", "<unknown>"},
		},
		{
			name: "roles from both label styles, sorted",
			labels: map[string]string{
				"node-role.kubernetes.io/worker":        "",
				"node-role.kubernetes.io/control-plane": "",
				"node-role.kubernetes.io/":              "",
				"kubernetes.io/role":                    "ingress",
				"kubernetes.io/hostname":                "n1",
			},
			status: corev1.NodeStatus{Conditions: ready(corev1.ConditionTrue)},
			want:   []any{"n1", "Ready", "control-plane,ingress,worker", "2d2h", "", "<none>", "<none>", "<unknown>", "<unknown>", "<unknown>"},
		},
		{
			name:   "duplicate roles once",
			labels: map[string]string{"node-role.kubernetes.io/worker": "", "kubernetes.io/role": "worker"},
			status: corev1.NodeStatus{Conditions: ready(corev1.ConditionTrue)},
			want:   []any{"n1", "Ready", "worker", "2d2h", "", "<none>", "<none>", "<unknown>", "<unknown>", "<unknown>"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1", Labels: tc.labels, CreationTimestamp: ago(50 * time.Hour)}, Spec: tc.spec, Status: tc.status}
			if diff := cmp.Diff(tc.want, rowOf(t, testPrinter().Nodes, n)); diff != "" {
				t.Errorf("cells (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSimpleCoreKinds(t *testing.T) {
	m := metav1.ObjectMeta{Name: "x", CreationTimestamp: ago(3 * time.Minute)}
	p := testPrinter()
	tests := []struct {
		name string
		got  func(t *testing.T) []any
		want []any
	}{
		{"namespace active", func(t *testing.T) []any {
			return rowOf(t, p.Namespaces, &corev1.Namespace{ObjectMeta: m, Status: corev1.NamespaceStatus{Phase: corev1.NamespaceActive}})
		}, []any{"x", "Active", "3m"}},
		{"namespace terminating", func(t *testing.T) []any {
			return rowOf(t, p.Namespaces, &corev1.Namespace{ObjectMeta: m, Status: corev1.NamespaceStatus{Phase: corev1.NamespaceTerminating}})
		}, []any{"x", "Terminating", "3m"}},
		{"configmap counts data and binary data", func(t *testing.T) []any {
			return rowOf(t, p.ConfigMaps, &corev1.ConfigMap{ObjectMeta: m, Data: map[string]string{"a": "", "b": ""}, BinaryData: map[string][]byte{"c": nil}})
		}, []any{"x", int64(3), "3m"}},
		{"empty configmap", func(t *testing.T) []any {
			return rowOf(t, p.ConfigMaps, &corev1.ConfigMap{ObjectMeta: m})
		}, []any{"x", int64(0), "3m"}},
		{"secret", func(t *testing.T) []any {
			return rowOf(t, p.Secrets, &corev1.Secret{ObjectMeta: m, Type: corev1.SecretTypeTLS, Data: map[string][]byte{"tls.crt": nil, "tls.key": nil}})
		}, []any{"x", "kubernetes.io/tls", int64(2), "3m"}},
		{"service account", func(t *testing.T) []any {
			return rowOf(t, p.ServiceAccounts, &corev1.ServiceAccount{ObjectMeta: m, Secrets: []corev1.ObjectReference{{Name: "tok"}}})
		}, []any{"x", int64(1), "3m"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, tc.got(t)); diff != "" {
				t.Errorf("cells (-want +got):\n%s", diff)
			}
		})
	}
}

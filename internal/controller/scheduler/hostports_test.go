package scheduler

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// withHostPort gives the pod's container a hostPort.
func withHostPort(ip string, proto corev1.Protocol, port int32) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		p.Spec.Containers[0].Ports = append(p.Spec.Containers[0].Ports,
			corev1.ContainerPort{ContainerPort: 8080, HostPort: port, HostIP: ip, Protocol: proto})
	}
}

func TestHostPortConflicts(t *testing.T) {
	tests := []struct {
		name      string
		used, new func(*corev1.Pod)
		want      bool
	}{
		{"same port, both wildcard", withHostPort("", "", 80), withHostPort("", corev1.ProtocolTCP, 80), false},
		{"other port", withHostPort("", "", 80), withHostPort("", "", 81), true},
		{"other protocol", withHostPort("10.0.0.1", corev1.ProtocolTCP, 80), withHostPort("10.0.0.1", corev1.ProtocolUDP, 80), true},
		{"other hostIP", withHostPort("127.0.0.1", "", 80), withHostPort("10.0.0.1", "", 80), true},
		{"same hostIP", withHostPort("10.0.0.1", "", 80), withHostPort("10.0.0.1", "", 80), false},
		{"wildcard used, specific wanted", withHostPort("0.0.0.0", "", 80), withHostPort("10.0.0.1", "", 80), false},
		{"specific used, wildcard wanted", withHostPort("10.0.0.1", "", 80), withHostPort("", "", 80), false},
		{"IPv6 wildcard", withHostPort("::", "", 80), withHostPort("10.0.0.1", "", 80), false},
		{"SCTP vs TCP", withHostPort("", corev1.ProtocolSCTP, 80), withHostPort("", "", 80), true},
		{"containerPort only", func(p *corev1.Pod) {
			p.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 80}}
		}, withHostPort("", "", 80), true},
		{"init container's port", func(p *corev1.Pod) {
			p.Spec.InitContainers = []corev1.Container{{Name: "i", Ports: []corev1.ContainerPort{{ContainerPort: 1, HostPort: 80}}}}
		}, withHostPort("", "", 80), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			used, want := hostPorts(pod("used", "", tc.used)), hostPorts(pod("new", "", tc.new))
			if got := portsFree(want, used); got != tc.want {
				t.Errorf("portsFree(%v, %v) = %v, want %v", want, used, got, tc.want)
			}
			if got := portsFree(used, want); got != tc.want {
				t.Errorf("portsFree is not symmetric: (%v, %v) = %v, want %v", used, want, got, tc.want)
			}
		})
	}
}

// TestHostPortScheduling follows upstream's HostPort conformance spec's
// pods (same port, hostIPs 127.0.0.1 and the node's, then UDP) on one
// node, and a pod whose hostPort is taken everywhere, which stays pending
// until the holder goes.
func TestHostPortScheduling(t *testing.T) {
	client := newClient(node("n1", nil), node("n2", nil),
		pod("holder1", "", func(p *corev1.Pod) { p.Spec.NodeName = "n1"; withHostPort("", "", 9000)(p) }),
		pod("holder2", "", func(p *corev1.Pod) { p.Spec.NodeName = "n2"; withHostPort("10.0.0.2", "", 9000)(p) }),
		pod("pod1", "", func(p *corev1.Pod) {
			p.Spec.NodeSelector = map[string]string{"kubernetes.io/hostname": "n1"}
			withHostPort("127.0.0.1", corev1.ProtocolTCP, 54323)(p)
		}),
		pod("pod2", "", func(p *corev1.Pod) {
			p.Spec.NodeSelector = map[string]string{"kubernetes.io/hostname": "n1"}
			withHostPort("10.0.0.1", corev1.ProtocolTCP, 54323)(p)
		}),
		pod("pod3", "", func(p *corev1.Pod) {
			p.Spec.NodeSelector = map[string]string{"kubernetes.io/hostname": "n1"}
			withHostPort("10.0.0.1", corev1.ProtocolUDP, 54323)(p)
		}),
		// 9000/TCP is taken on every address of n1 and on n2's 10.0.0.2.
		pod("blocked", "", withHostPort("", "", 9000)),
	)
	rec := start(t, client)
	want := map[string]string{"holder1": "n1", "holder2": "n2", "pod1": "n1", "pod2": "n1", "pod3": "n1", "blocked": ""}
	eventually(t, func() string {
		got := map[string]string{}
		for _, p := range listPods(t, client, "default") {
			got[p.Name] = p.Spec.NodeName
		}
		if diff := cmp.Diff(want, got); diff != "" {
			return diff
		}
		for _, e := range rec.List() {
			if e == "Warning FailedScheduling 0/2 nodes are available: 2 "+reasonHostPorts+
				". preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling." {
				return ""
			}
		}
		return fmt.Sprintf("no FailedScheduling event for the host port: %v", rec.List())
	})
	if err := client.CoreV1().Pods("default").Delete(context.Background(), "holder2", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() string {
		p, _ := client.CoreV1().Pods("default").Get(context.Background(), "blocked", metav1.GetOptions{})
		if p.Spec.NodeName != "n2" {
			return fmt.Sprintf("blocked on %q after the holder on n2 went, want n2", p.Spec.NodeName)
		}
		return ""
	})
}

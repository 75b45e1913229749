package server

import (
	"context"
	"net/netip"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
)

func TestDNSClients(t *testing.T) {
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n2"},
		Spec: corev1.NodeSpec{PodCIDRs: []string{"192.168.7.0/24"}},
		Status: corev1.NodeStatus{Addresses: []corev1.NodeAddress{
			{Type: corev1.NodeInternalIP, Address: "172.30.0.2"}, {Type: corev1.NodeHostName, Address: "n2"}}}}
	factory := informers.NewSharedInformerFactory(fake.NewClientset(node), 0)
	c, err := newDNSClients(factory, "10.244.0.0/16", netip.MustParseAddr("172.30.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); factory.Shutdown() }()
	factory.Start(ctx.Done())
	// The Node's event reaches the filter after the cache syncs.
	for deadline := time.Now().Add(10 * time.Second); !c.Allow(netip.MustParseAddr("172.30.0.2")); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the Node's addresses never reached the filter")
		}
	}
	tests := []struct {
		src  string
		want bool
	}{
		{"10.244.3.7", true},    // a pod of --cluster-cidr
		{"192.168.7.9", true},   // a pod of a Node's podCIDR
		{"172.30.0.1", true},    // this node
		{"172.30.0.2", true},    // another Node
		{"127.0.0.1", true},     // loopback
		{"::1", true},           // loopback
		{"172.30.0.100", false}, // a machine that only reaches the node
		{"8.8.8.8", false},
	}
	for _, tc := range tests {
		if got := c.Allow(netip.MustParseAddr(tc.src)); got != tc.want {
			t.Errorf("Allow(%s) = %v, want %v", tc.src, got, tc.want)
		}
	}
}

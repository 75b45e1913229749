package nodeipam

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
)

func TestBlocks(t *testing.T) {
	tests := []struct {
		name     string
		cidr     string
		mask     int
		occupied []string
		want     []string // successive allocations; "full" for ErrFull
	}{
		{"first blocks in order", "10.244.0.0/16", 24, nil, []string{"10.244.0.0/24", "10.244.1.0/24"}},
		{"skips occupied", "10.244.0.0/16", 24, []string{"10.244.0.0/24", "10.244.2.0/24"},
			[]string{"10.244.1.0/24", "10.244.3.0/24"}},
		{"exhaustion", "10.0.0.0/23", 24, nil, []string{"10.0.0.0/24", "10.0.1.0/24", "full"}},
		{"ipv6", "fd00:10:244::/56", 64, nil, []string{"fd00:10:244::/64", "fd00:10:244:1::/64"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := newBlocks(netip.MustParsePrefix(tc.cidr), tc.mask)
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range tc.occupied {
				if !b.occupy(netip.MustParsePrefix(o)) {
					t.Fatalf("occupy(%s) = false, want true", o)
				}
			}
			for i, want := range tc.want {
				got, err := b.allocate()
				if want == "full" {
					if err != ErrFull {
						t.Errorf("allocation %d: got %v, %v, want ErrFull", i, got, err)
					}
					continue
				}
				if err != nil || got.String() != want {
					t.Errorf("allocation %d: got %v, %v, want %s", i, got, err, want)
				}
			}
		})
	}
}

func TestBlocksRejectsForeignPrefix(t *testing.T) {
	b, err := newBlocks(netip.MustParsePrefix("10.244.0.0/16"), 24)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"10.245.0.0/24", "10.244.0.0/25", "10.244.0.128/24"} {
		if b.occupy(netip.MustParsePrefix(p)) {
			t.Errorf("occupy(%s) = true, want false", p)
		}
	}
}

func TestControllerAssignsDistinctCIDRs(t *testing.T) {
	existing := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "old"},
		Spec: corev1.NodeSpec{PodCIDR: "10.244.0.0/24", PodCIDRs: []string{"10.244.0.0/24"}}}
	client := fake.NewClientset(existing)
	factory := informers.NewSharedInformerFactory(client, 0)
	c, err := New(Config{Client: client, Informers: factory, ClusterCIDRs: []netip.Prefix{netip.MustParsePrefix("10.244.0.0/16")}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	factory.Start(ctx.Done())
	go func() { _ = c.Run(ctx) }()
	for i := 0; i < 3; i++ {
		if _, err := client.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("n%d", i)}},
			metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		list, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		seen, done := map[string]string{}, true
		for _, n := range list.Items {
			if n.Spec.PodCIDR == "" {
				done = false
				continue
			}
			if other, dup := seen[n.Spec.PodCIDR]; dup {
				t.Fatalf("%s given to %s and %s", n.Spec.PodCIDR, other, n.Name)
			}
			seen[n.Spec.PodCIDR] = n.Name
		}
		if done && len(list.Items) == 4 {
			if seen["10.244.0.0/24"] != "old" {
				t.Errorf("existing assignment changed: %v", seen)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nodes not all assigned: %v", seen)
		}
		time.Sleep(20 * time.Millisecond) // poll interval
	}
}

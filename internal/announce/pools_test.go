package announce

import (
	"context"
	"log/slog"
	"net/netip"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/cache"

	"github.com/svcnet/svcnet/internal/controller/loadbalancer"
)

// TestOnlyPoolIPs checks that only addresses of the published pools are
// announced: an address written into a Service's status by hand is not,
// and nothing is while the pools are unknown or malformed.
func TestOnlyPoolIPs(t *testing.T) {
	nodes := []*v1.Node{node("a", true)}
	svcs := []*v1.Service{lbService("pool", "192.0.2.240"), lbService("forged", "192.168.1.1")}
	poolsCM := func(pools string) *v1.ConfigMap {
		return &v1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: loadbalancer.PoolsNamespace, Name: loadbalancer.PoolsConfigMap},
			Data: map[string]string{loadbalancer.PoolsKey: pools}}
	}
	tests := []struct {
		name string
		cm   *v1.ConfigMap
		want []string
	}{
		{name: "pool address only", cm: poolsCM("192.0.2.240-192.0.2.250"), want: []string{"192.0.2.240"}},
		{name: "no pools published", want: nil},
		{name: "malformed pools", cm: poolsCM("not-a-range"), want: nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var objs []runtime.Object
			if tc.cm != nil {
				objs = append(objs, tc.cm)
			}
			client := fake.NewClientset(objs...)
			factory := informers.NewSharedInformerFactory(client, 0)
			a, err := New(Config{Informers: factory, Pools: factory.Core().V1().ConfigMaps(), NodeName: "a",
				Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			factory.Start(ctx.Done())
			defer factory.Shutdown()
			if !cache.WaitForCacheSync(ctx.Done(), a.synced...) {
				t.Fatal("caches not synced")
			}
			owned := OwnedIPs("a", svcs, nodes, nil, a.inPools())
			var got []string
			for _, want := range []string{"192.0.2.240", "192.168.1.1"} {
				if owned[netip.MustParseAddr(want)] {
					got = append(got, want)
				}
			}
			if len(got) != len(tc.want) || (len(got) > 0 && got[0] != tc.want[0]) {
				t.Errorf("announced %v, want %v", got, tc.want)
			}
		})
	}
}

package proxy_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/svcnet/svcnet/internal/proxy"
	"github.com/svcnet/svcnet/internal/proxy/conntrack"
	pt "github.com/svcnet/svcnet/internal/proxy/proxytest"
)

type nopBackend struct{}

func (nopBackend) Sync(context.Context, *proxy.State) error { return nil }

// TestProxyDeletesStaleUDPFlows removes a UDP endpoint through the API and
// checks the proxy deletes exactly its conntrack entries after the sync.
func TestProxyDeletesStaleUDPFlows(t *testing.T) {
	svc := pt.Service("ns", "dns", "10.96.0.10", nil, func(s *v1.Service) {
		s.Spec.Type = v1.ServiceTypeNodePort
		s.Spec.Ports = []v1.ServicePort{{Name: "dns", Port: 53, Protocol: v1.ProtocolUDP, NodePort: 30053}}
	})
	ports := []pt.SlicePort{{Name: "dns", Port: 5353, Protocol: v1.ProtocolUDP}}
	slice := pt.Slice("ns", "dns", "dns-1", ports, pt.EP{IP: "10.244.0.1"}, pt.EP{IP: "10.244.0.2"})
	client := fake.NewClientset(svc, slice)
	factory := informers.NewSharedInformerFactory(client, 0)
	stale := conntrack.Entry{Protocol: "udp", OrigDst: "10.96.0.10", OrigPort: 53, ReplySrc: "10.244.0.1"}
	staleNP := conntrack.Entry{Protocol: "udp", OrigDst: "192.168.0.2", OrigPort: 30053, ReplySrc: "10.244.0.1"}
	live := conntrack.Entry{Protocol: "udp", OrigDst: "10.96.0.10", OrigPort: 53, ReplySrc: "10.244.0.2"}
	ct := conntrack.NewFake(stale, staleNP, live)
	p, err := proxy.New(proxy.Config{Client: client, Informers: factory, NodeName: pt.NodeName, MinSyncPeriod: -1,
		Conntrack: ct,
		Backends:  map[string]proxy.BackendFactory{"nftables": func(proxy.BackendConfig) (proxy.Backend, error) { return nopBackend{}, nil }}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	defer func() { cancel(); <-done }()
	factory.Start(ctx.Done())
	go func() { done <- p.Run(ctx) }()
	poll(t, func() bool { ok, _, _ := p.Health().Healthy(); return ok })
	if diff := cmp.Diff([]conntrack.Entry{stale, staleNP, live}, ct.Entries()); diff != "" {
		t.Fatalf("first sync deleted entries (-want +got):\n%s", diff)
	}

	slice = pt.Slice("ns", "dns", "dns-1", ports, pt.EP{IP: "10.244.0.2"})
	if _, err := client.DiscoveryV1().EndpointSlices("ns").Update(ctx, slice, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	poll(t, func() bool { return len(ct.Entries()) == 1 })
	if diff := cmp.Diff([]conntrack.Entry{live}, ct.Entries()); diff != "" {
		t.Errorf("entries after endpoint removal (-want +got):\n%s", diff)
	}
}

func poll(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within 10s")
		}
		time.Sleep(5 * time.Millisecond) // polling interval, not synchronisation
	}
}

package dns

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
)

// BenchmarkServerUDP sends real DNS packets over loopback UDP from 16
// clients to the server holding 10k Services, and reports queries/s and
// the p50/p99 latency of A queries for cluster names.
func BenchmarkServerUDP(b *testing.B) {
	const services, clients = 10000, 16
	objs := []runtime.Object{&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "default"}}}
	for i := 0; i < services; i++ {
		objs = append(objs, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("svc-%d", i), Namespace: "default"},
			Spec: corev1.ServiceSpec{ClusterIP: fmt.Sprintf("10.96.%d.%d", i/250, 1+i%250),
				Ports: []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP}}}})
	}
	client := fake.NewClientset(objs...)
	factory := informers.NewSharedInformerFactory(client, 0)
	srv, err := New(Config{Client: client, Informers: factory, Listen: []string{"127.0.0.1:0"}, Upstreams: []string{"127.0.0.1:1"}})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = srv.Run(ctx) }()
	factory.Start(ctx.Done())
	<-srv.Ready()
	if err := wait.PollUntilContextTimeout(ctx, 5*time.Millisecond, 30*time.Second, true,
		func(context.Context) (bool, error) { return srv.Zone().HasSynced(), nil }); err != nil {
		b.Fatal(err)
	}
	addr := srv.Addrs()[0]
	b.ResetTimer()
	var mu sync.Mutex
	var lat []time.Duration
	var wg sync.WaitGroup
	start := time.Now()
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			conn, err := dns.Dial("udp", addr)
			if err != nil {
				b.Error(err)
				return
			}
			defer conn.Close()
			mine := make([]time.Duration, 0, b.N/clients+1)
			for i := c; i < b.N; i += clients {
				m := new(dns.Msg)
				m.SetQuestion(fmt.Sprintf("svc-%d.default.svc.cluster.local.", (i*7919)%services), dns.TypeA)
				t0 := time.Now()
				if err := conn.WriteMsg(m); err != nil {
					b.Error(err)
					return
				}
				r, err := conn.ReadMsg()
				if err != nil || len(r.Answer) != 1 {
					b.Errorf("query %s: %v %v", m.Question[0].Name, r, err)
					return
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}(c)
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if len(lat) == 0 {
		return
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "queries/s")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "µs-p50")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "µs-p99")
}

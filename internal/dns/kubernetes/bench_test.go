package kubernetes

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

const benchServices = 10000

// benchZone indexes n ClusterIP Services, each with an EndpointSlice of two
// ready endpoints, and one headless Service per 10 of them, through the
// same code the informer handlers run.
func benchZone(n int) *Zone {
	z := newZone(Config{})
	z.namespaces["bench"] = struct{}{}
	ports := []slicePort{{"http", corev1.ProtocolTCP, 8080}}
	for i := range n {
		name := fmt.Sprintf("svc-%d", i)
		ip := fmt.Sprintf("10.%d.%d.%d", 96+i>>16, (i>>8)&255, i&255)
		opts := []svcOpt{clusterIPs(ip), svcPort("http", corev1.ProtocolTCP, 80)}
		if i%10 == 0 {
			opts[0] = headless()
		}
		z.upsertService(newService("bench", name, opts...))
		z.upsertSlice(slice("bench", name+"-x", name, discoveryv1.AddressTypeIPv4, ports,
			ready(fmt.Sprintf("172.%d.%d.%d", 16+i>>16, (i>>8)&255, i&255)),
			named(fmt.Sprintf("172.%d.%d.%d", 32+i>>16, (i>>8)&255, i&255), "pod-0")))
	}
	return z
}

// BenchmarkLookup measures cluster-name lookups against 10k Services and
// reports queries/s; BenchmarkZoneMemory reports bytes per Service.
func BenchmarkLookup(b *testing.B) {
	z := benchZone(benchServices)
	questions := []struct {
		name  string
		qtype uint16
	}{
		{"svc-1234.bench.svc.cluster.local.", dns.TypeA},
		{"svc-1230.bench.svc.cluster.local.", dns.TypeA}, // headless
		{"_http._tcp.svc-4321.bench.svc.cluster.local.", dns.TypeSRV},
		{"pod-0.svc-777.bench.svc.cluster.local.", dns.TypeA},
		{"missing.bench.svc.cluster.local.", dns.TypeA},
		{"1.2.96.10.in-addr.arpa.", dns.TypePTR},
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			q := questions[i%len(questions)]
			if _, ok := z.Lookup(q.name, q.qtype); !ok {
				b.Errorf("no answer for %s", q.name)
				return
			}
			i++
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "queries/s")
}

func BenchmarkZoneMemory(b *testing.B) {
	for range b.N {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		z := benchZone(benchServices)
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/benchServices, "bytes/service")
		runtime.KeepAlive(z)
	}
}

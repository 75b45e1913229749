package nftables

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/svcnet/svcnet/internal/proxy"
	pt "github.com/svcnet/svcnet/internal/proxy/proxytest"
)

// scaleScenario returns n single-port ClusterIP Services with eps remote
// endpoints each, the shape `make bench` measures.
func scaleScenario(n, eps int) pt.Scenario {
	var s pt.Scenario
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("svc-%d", i)
		ip := fmt.Sprintf("10.96.%d.%d", 1+i/250, 1+i%250)
		s.Services = append(s.Services, pt.Service("scale", name, ip, []int32{80}))
		var e []pt.EP
		for j := 0; j < eps; j++ {
			k := i*eps + j
			e = append(e, pt.EP{IP: fmt.Sprintf("10.%d.%d.%d", 100+k/62500, (k/250)%250, 1+k%250), Node: "node-b"})
		}
		s.Slices = append(s.Slices, pt.Slice("scale", name, name+"-1", []pt.SlicePort{{Name: "p80", Port: 8080}}, e...))
	}
	return s
}

// BenchmarkRealSync times a fresh proxier's full sync of N Services (10
// endpoints each by default) and then a partial sync of one changed Service, against
// the real nft binary. It runs only as root inside the throw-away
// namespace made by hack/netns-run.sh:
//
//	hack/netns-run.sh go test -run '^$' -bench RealSync -benchtime 1x ./internal/proxy/nftables/
//
// SVCNET_BENCH_SERVICES=1000,10000 picks other sizes and
// SVCNET_BENCH_ENDPOINTS another number of endpoints per Service.
func BenchmarkRealSync(b *testing.B) {
	if os.Getenv("SVCNET_IN_NETNS") != "1" || os.Geteuid() != 0 {
		b.Skip("needs root inside a fresh network namespace (SVCNET_IN_NETNS=1)")
	}
	if _, err := exec.LookPath("nft"); err != nil {
		b.Skip("nft not installed")
	}
	ctx := context.Background()
	sizes := []int{1000, 2000, 4000}
	if env := os.Getenv("SVCNET_BENCH_SERVICES"); env != "" {
		sizes = nil
		for _, f := range strings.Split(env, ",") {
			n, err := strconv.Atoi(f)
			if err != nil {
				b.Fatalf("SVCNET_BENCH_SERVICES=%q: %v", env, err)
			}
			sizes = append(sizes, n)
		}
	}
	eps := 10
	if env := os.Getenv("SVCNET_BENCH_ENDPOINTS"); env != "" {
		var err error
		if eps, err = strconv.Atoi(env); err != nil || eps < 1 {
			b.Fatalf("SVCNET_BENCH_ENDPOINTS=%q: want a positive number", env)
		}
	}
	for _, n := range sizes {
		s := scaleScenario(n, eps)
		tr := proxy.NewTracker(pt.NodeName, proxy.ServiceOptions{})
		for _, svc := range s.Services {
			tr.SetService(svc)
		}
		for _, sl := range s.Slices {
			tr.SetEndpointSlice(sl)
		}
		full := tr.Snapshot(true)
		// freshSync gives a new proxier its first full sync, on an empty
		// table.
		freshSync := func(b *testing.B) *Proxier {
			_ = exec.Command("nft", "delete", "table", "inet", tableName).Run()
			p, err := New(Config{BackendConfig: testConfig()})
			if err != nil {
				b.Fatal(err)
			}
			if err := p.Sync(ctx, full.State); err != nil {
				b.Fatalf("full sync: %v", err)
			}
			return p
		}
		b.Run(fmt.Sprintf("full/services=%d", n), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				freshSync(b)
			}
		})
		b.Run(fmt.Sprintf("partial/services=%d", n), func(b *testing.B) {
			b.StopTimer()
			p := freshSync(b)
			tr.Synced(full)
			b.StartTimer()
			for i := 0; i < b.N; i++ {
				// Drop one endpoint of one Service, then put it back.
				eps := s.Slices[0].Endpoints
				sl := s.Slices[0].DeepCopy()
				if i%2 == 0 {
					sl.Endpoints = eps[:len(eps)-1]
				}
				tr.SetEndpointSlice(sl)
				snap := tr.Snapshot(false)
				if err := p.Sync(ctx, snap.State); err != nil {
					b.Fatalf("partial sync: %v", err)
				}
				tr.Synced(snap)
			}
		})
	}
	_ = exec.Command("nft", "delete", "table", "inet", tableName).Run()
}

package dns

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
)

// startUpstream runs a fake upstream resolver on 127.0.0.1 that knows
// www.example.test and ext.example.test and denies everything else.
func startUpstream(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, req *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(req)
		q := req.Question[0]
		switch {
		case q.Name == "www.example.test." && q.Qtype == dns.TypeA:
			m.Answer = []dns.RR{mustRR(t, "www.example.test. 60 IN A 192.0.2.10")}
		case q.Name == "ext.example.test." && q.Qtype == dns.TypeA:
			m.Answer = []dns.RR{mustRR(t, "ext.example.test. 60 IN A 192.0.2.20")}
		default:
			m.Rcode = dns.RcodeNameError
			m.Ns = []dns.RR{mustRR(t, "example.test. 60 IN SOA ns.example.test. h.example.test. 1 2 3 4 30")}
		}
		_ = w.WriteMsg(m)
	})}
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = srv.ActivateAndServe()
	}()
	<-started
	t.Cleanup(func() {
		_ = srv.Shutdown()
		wg.Wait()
	})
	return pc.LocalAddr().String()
}

func mustRR(t *testing.T, s string) dns.RR {
	t.Helper()
	rr, err := dns.NewRR(s)
	if err != nil {
		t.Fatalf("NewRR(%q): %v", s, err)
	}
	return rr
}

func objects() []runtime.Object {
	ready := true
	bigSlice := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: "default", Name: "big-1", Labels: map[string]string{discoveryv1.LabelServiceName: "big"}},
		AddressType: discoveryv1.AddressTypeIPv4,
	}
	for i := range 60 {
		bigSlice.Endpoints = append(bigSlice.Endpoints, discoveryv1.Endpoint{
			Addresses:  []string{fmt.Sprintf("172.16.0.%d", i+1)},
			Conditions: discoveryv1.EndpointConditions{Ready: &ready},
		})
	}
	return []runtime.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "default"}},
		&corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web"},
			Spec:       corev1.ServiceSpec{ClusterIP: "10.96.0.20", ClusterIPs: []string{"10.96.0.20"}, Ports: []corev1.ServicePort{{Name: "http", Protocol: corev1.ProtocolTCP, Port: 80}}},
		},
		&corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "ext"},
			Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "ext.example.test"},
		},
		&corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "big"},
			Spec:       corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone},
		},
		bigSlice,
	}
}

// TestServer starts the real server on 127.0.0.1 and sends it real DNS
// packets over UDP and TCP.
func TestServer(t *testing.T) {
	upstream := startUpstream(t)
	client := fake.NewClientset(objects()...)
	factory := informers.NewSharedInformerFactory(client, 0)
	srv, err := New(Config{
		Client:    client,
		Informers: factory,
		Listen:    []string{"127.0.0.1:0"},
		Upstreams: []string{upstream},
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		factory.Shutdown()
	})
	factory.Start(ctx.Done())
	<-srv.Ready()
	if err := wait.PollUntilContextTimeout(ctx, 5*time.Millisecond, 10*time.Second, true,
		func(context.Context) (bool, error) { return srv.Zone().HasSynced(), nil }); err != nil {
		t.Fatalf("waiting for sync: %v", err)
	}
	addr := srv.Addrs()[0]

	tests := []struct {
		name      string
		net       string
		qname     string
		qtype     uint16
		bufsize   uint16
		wantRcode int
		wantAA    bool
		wantTC    bool
		want      []string // answer section; nil to skip
		wantCount int      // answer count when want is nil
	}{
		{name: "ClusterIP over UDP", net: "udp", qname: "web.default.svc.cluster.local.", qtype: dns.TypeA, wantAA: true,
			want: []string{"web.default.svc.cluster.local.\t5\tIN\tA\t10.96.0.20"}},
		{name: "ClusterIP over TCP, mixed case", net: "tcp", qname: "WEB.Default.svc.cluster.local.", qtype: dns.TypeA, wantAA: true,
			want: []string{"WEB.Default.svc.cluster.local.\t5\tIN\tA\t10.96.0.20"}},
		{name: "NXDOMAIN", net: "udp", qname: "nope.default.svc.cluster.local.", qtype: dns.TypeA, wantAA: true,
			wantRcode: dns.RcodeNameError, want: []string{}},
		{name: "PTR", net: "udp", qname: "20.0.96.10.in-addr.arpa.", qtype: dns.TypePTR, wantAA: true,
			want: []string{"20.0.96.10.in-addr.arpa.\t5\tIN\tPTR\tweb.default.svc.cluster.local."}},
		{name: "forwarded name", net: "udp", qname: "www.example.test.", qtype: dns.TypeA,
			want: []string{"www.example.test.\t60\tIN\tA\t192.0.2.10"}},
		{name: "forwarded NXDOMAIN", net: "tcp", qname: "missing.example.test.", qtype: dns.TypeA,
			wantRcode: dns.RcodeNameError, want: []string{}},
		{name: "ExternalName chased upstream", net: "udp", qname: "ext.default.svc.cluster.local.", qtype: dns.TypeA, wantAA: true,
			want: []string{
				"ext.default.svc.cluster.local.\t5\tIN\tCNAME\text.example.test.",
				"ext.example.test.\t60\tIN\tA\t192.0.2.20",
			}},
		{name: "large headless answer truncated over UDP", net: "udp", qname: "big.default.svc.cluster.local.", qtype: dns.TypeA,
			wantAA: true, wantTC: true},
		{name: "large headless answer whole over TCP", net: "tcp", qname: "big.default.svc.cluster.local.", qtype: dns.TypeA,
			wantAA: true, wantCount: 60},
		{name: "large headless answer whole with EDNS", net: "udp", qname: "big.default.svc.cluster.local.", qtype: dns.TypeA,
			bufsize: 4096, wantAA: true, wantCount: 60},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := &dns.Client{Net: tc.net, Timeout: 5 * time.Second}
			req := new(dns.Msg)
			req.SetQuestion(tc.qname, tc.qtype)
			if tc.bufsize > 0 {
				req.SetEdns0(tc.bufsize, false)
			}
			resp, _, err := c.Exchange(req, addr)
			if err != nil {
				t.Fatalf("Exchange: %v", err)
			}
			if resp.Rcode != tc.wantRcode {
				t.Errorf("got rcode %s, want %s", dns.RcodeToString[resp.Rcode], dns.RcodeToString[tc.wantRcode])
			}
			if resp.Authoritative != tc.wantAA {
				t.Errorf("got AA %v, want %v", resp.Authoritative, tc.wantAA)
			}
			if resp.Truncated != tc.wantTC {
				t.Errorf("got TC %v, want %v", resp.Truncated, tc.wantTC)
			}
			got := make([]string, 0, len(resp.Answer))
			for _, rr := range resp.Answer {
				got = append(got, rr.String())
			}
			sort.Strings(got)
			if tc.want != nil {
				want := append([]string(nil), tc.want...)
				sort.Strings(want)
				if d := cmp.Diff(want, got, cmpopts.EquateEmpty()); d != "" {
					t.Errorf("answer mismatch (-want +got):\n%s", d)
				}
			} else if tc.wantCount > 0 && len(got) != tc.wantCount {
				t.Errorf("got %d answers, want %d", len(got), tc.wantCount)
			}
		})
	}

	// Metrics and health.
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	for _, path := range []string{"/health", "/ready"} {
		res, err := http.Get(hs.URL + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Errorf("GET %s: got status %d, want 200", path, res.StatusCode)
		}
	}
	res, err := http.Get(hs.URL + "/metrics")
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	for _, want := range []string{
		`svcnet_dns_requests_total{family="1",proto="udp",type="A",zone="cluster.local."}`,
		`svcnet_dns_responses_total{rcode="NXDOMAIN",zone="cluster.local."} 1`,
		`svcnet_dns_request_duration_seconds_bucket`,
		`svcnet_dns_cache_misses_total`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// TestAllowClient checks that a server with AllowClient refuses sources it
// does not allow, forwarded and cluster names alike, over UDP and TCP.
func TestAllowClient(t *testing.T) {
	upstream := startUpstream(t)
	client := fake.NewClientset(objects()...)
	factory := informers.NewSharedInformerFactory(client, 0)
	allowed := netip.MustParseAddr("127.0.0.2")
	srv, err := New(Config{Client: client, Informers: factory, Listen: []string{"127.0.0.1:0"}, Upstreams: []string{upstream},
		AllowClient: func(a netip.Addr) bool { return a == allowed }})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
		factory.Shutdown()
	})
	factory.Start(ctx.Done())
	<-srv.Ready()
	if err := wait.PollUntilContextTimeout(ctx, 5*time.Millisecond, 10*time.Second, true,
		func(context.Context) (bool, error) { return srv.Zone().HasSynced(), nil }); err != nil {
		t.Fatalf("waiting for sync: %v", err)
	}
	tests := []struct {
		name, net, qname, from string
		want                   int
	}{
		{"cluster name from an allowed source", "udp", "web.default.svc.cluster.local.", "127.0.0.2", dns.RcodeSuccess},
		{"forwarded name from an allowed source", "tcp", "www.example.test.", "127.0.0.2", dns.RcodeSuccess},
		{"cluster name from elsewhere", "udp", "web.default.svc.cluster.local.", "127.0.0.1", dns.RcodeRefused},
		{"forwarded name from elsewhere", "udp", "www.example.test.", "127.0.0.1", dns.RcodeRefused},
		{"forwarded name from elsewhere over TCP", "tcp", "www.example.test.", "127.0.0.1", dns.RcodeRefused},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var local net.Addr = &net.UDPAddr{IP: net.ParseIP(tc.from)}
			if tc.net == "tcp" {
				local = &net.TCPAddr{IP: net.ParseIP(tc.from)}
			}
			c := &dns.Client{Net: tc.net, Timeout: 5 * time.Second, Dialer: &net.Dialer{LocalAddr: local}}
			req := new(dns.Msg)
			req.SetQuestion(tc.qname, dns.TypeA)
			resp, _, err := c.Exchange(req, srv.Addrs()[0])
			if err != nil {
				t.Fatalf("Exchange: %v", err)
			}
			if resp.Rcode != tc.want {
				t.Errorf("got rcode %s, want %s", dns.RcodeToString[resp.Rcode], dns.RcodeToString[tc.want])
			}
			if tc.want == dns.RcodeRefused && len(resp.Answer) != 0 {
				t.Errorf("a refused query got answers %v", resp.Answer)
			}
		})
	}
}

package loadbalancer

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/record"
)

const testNS = "ns"

type env struct {
	c        *Controller
	client   *fake.Clientset
	recorder *record.FakeRecorder
	ctx      context.Context
}

func start(t *testing.T, cfg Config, objs ...runtime.Object) *env {
	t.Helper()
	client := fake.NewClientset(objs...)
	factory := informers.NewSharedInformerFactory(client, 0)
	rec := record.NewFakeRecorder(1000)
	cfg.Client, cfg.Informers, cfg.Recorder, cfg.Logger = client, factory, rec, slog.New(slog.DiscardHandler)
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	factory.Start(ctx.Done())
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		factory.Shutdown()
	})
	return &env{c: c, client: client, recorder: rec, ctx: ctx}
}

func pools(t *testing.T, s ...string) []Pool {
	t.Helper()
	p, err := ParsePools(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

type svcOpt func(*corev1.Service)

func withIP(ip string) svcOpt { return func(s *corev1.Service) { s.Spec.LoadBalancerIP = ip } }
func withClass(c string) svcOpt {
	return func(s *corev1.Service) { s.Spec.LoadBalancerClass = &c }
}
func withStatus(ips ...string) svcOpt {
	return func(s *corev1.Service) { s.Status.LoadBalancer.Ingress = ingressOf(ips...) }
}
func withFamilies(f ...corev1.IPFamily) svcOpt {
	return func(s *corev1.Service) {
		p := corev1.IPFamilyPolicyPreferDualStack
		s.Spec.IPFamilies, s.Spec.IPFamilyPolicy = f, &p
	}
}
func created(sec int64) svcOpt {
	return func(s *corev1.Service) { s.CreationTimestamp = metav1.Unix(sec, 0) }
}

func lbService(name string, opts ...svcOpt) *corev1.Service {
	s := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: testNS},
		Spec: corev1.ServiceSpec{
			Type:       corev1.ServiceTypeLoadBalancer,
			ClusterIP:  "10.96.0.10",
			IPFamilies: []corev1.IPFamily{corev1.IPv4Protocol},
			Ports:      []corev1.ServicePort{{Port: 80, Protocol: corev1.ProtocolTCP, NodePort: 30080}},
		},
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

func ingressOf(ips ...string) []corev1.LoadBalancerIngress {
	var out []corev1.LoadBalancerIngress
	for _, ip := range ips {
		mode := corev1.LoadBalancerIPModeVIP
		out = append(out, corev1.LoadBalancerIngress{IP: ip, IPMode: &mode})
	}
	return out
}

// ips returns the ingress IPs of Service name.
func (e *env) ips(t *testing.T, name string) []string {
	t.Helper()
	svc, err := e.client.CoreV1().Services(testNS).Get(e.ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, in := range svc.Status.LoadBalancer.Ingress {
		out = append(out, in.IP)
	}
	return out
}

// waitIPs polls until Service name shows want (nil: no ingress).
func (e *env) waitIPs(t *testing.T, name string, want ...string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := e.ips(t, name)
		if cmp.Equal(got, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("service %s: got ingress %v, want %v", name, got, want)
		}
		time.Sleep(5 * time.Millisecond) // polling interval, not synchronisation
	}
}

// waitEvent polls the recorder until an event containing all of parts
// arrives, and returns the events seen before it.
func (e *env) waitEvent(t *testing.T, parts ...string) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	var seen []string
	for {
		select {
		case ev := <-e.recorder.Events:
			seen = append(seen, ev)
			match := true
			for _, p := range parts {
				match = match && strings.Contains(ev, p)
			}
			if match {
				return
			}
		case <-timeout:
			t.Fatalf("no event with %q; saw %q", parts, seen)
		}
	}
}

func (e *env) create(t *testing.T, svc *corev1.Service) {
	t.Helper()
	if _, err := e.client.CoreV1().Services(testNS).Create(e.ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestAssignsDistinctAddresses(t *testing.T) {
	e := start(t, Config{Pools: pools(t, "192.168.100.240/30")})
	for _, n := range []string{"a", "b", "c"} {
		e.create(t, lbService(n))
		e.waitIPs(t, n, map[string]string{"a": "192.168.100.240", "b": "192.168.100.241", "c": "192.168.100.242"}[n])
	}
	svc, err := e.client.CoreV1().Services(testNS).Get(e.ctx, "a", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(ingressOf("192.168.100.240"), svc.Status.LoadBalancer.Ingress); diff != "" {
		t.Errorf("status.loadBalancer.ingress (-want +got):\n%s", diff)
	}
	e.waitEvent(t, "Normal", EventEnsuring, "Ensuring load balancer")
	e.waitEvent(t, "Normal", EventEnsured, "Ensured load balancer")
}

func TestRebuildsInUseFromStatus(t *testing.T) {
	e := start(t, Config{Pools: pools(t, "10.1.0.1-10.1.0.4")},
		lbService("old", created(100), withStatus("10.1.0.1")),
		lbService("dup", created(200), withStatus("10.1.0.1")),
		// Another class's Service holding a pool address keeps it.
		lbService("foreign", created(50), withClass("example.com/lb"), withStatus("10.1.0.2")),
		lbService("outside", created(300), withStatus("10.9.0.1")),
	)
	e.waitIPs(t, "dup", "10.1.0.3")
	e.waitIPs(t, "outside", "10.1.0.4")
	e.waitIPs(t, "old", "10.1.0.1")
	e.waitIPs(t, "foreign", "10.1.0.2")
}

func TestRequestedIP(t *testing.T) {
	tests := []struct {
		name      string
		svc       *corev1.Service
		want      []string
		wantEvent string
	}{
		{name: "free and in pool", svc: lbService("req", withIP("10.2.0.7")), want: []string{"10.2.0.7"}},
		{name: "in use", svc: lbService("req", withIP("10.2.0.1")), wantEvent: `requested IP 10.2.0.1 is already in use by Service "ns/holder"`},
		{name: "outside pools", svc: lbService("req", withIP("172.16.0.1")), wantEvent: "requested IP 172.16.0.1 is not in any LoadBalancer IP pool"},
		{name: "invalid", svc: lbService("req", withIP("nope")), wantEvent: `spec.loadBalancerIP "nope" is not a valid IP address`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := start(t, Config{Pools: pools(t, "10.2.0.0/28")}, lbService("holder", withStatus("10.2.0.1")))
			e.waitIPs(t, "holder", "10.2.0.1")
			e.create(t, tc.svc)
			if tc.wantEvent != "" {
				e.waitEvent(t, "Warning", EventAllocationFailed, tc.wantEvent)
			}
			e.waitIPs(t, "req", tc.want...)
		})
	}
}

func TestLoadBalancerClass(t *testing.T) {
	tests := []struct {
		name  string
		class string
		svcs  []*corev1.Service
		want  map[string][]string
	}{
		{
			name: "default controller serves only Services without a class",
			svcs: []*corev1.Service{lbService("none"), lbService("other", withClass("example.com/other"))},
			want: map[string][]string{"none": {"10.3.0.1"}, "other": nil},
		},
		{
			name:  "named class serves only its class",
			class: "svcnet.io/lb",
			svcs:  []*corev1.Service{lbService("none"), lbService("mine", withClass("svcnet.io/lb")), lbService("other", withClass("example.com/other"))},
			want:  map[string][]string{"none": nil, "mine": {"10.3.0.1"}, "other": nil},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// A sentinel Service of the served class, created last,
			// shows that the others were synced before it.
			sentinel := lbService("zz-sentinel")
			if tc.class != "" {
				withClass(tc.class)(sentinel)
			}
			e := start(t, Config{Pools: pools(t, "10.3.0.1-10.3.0.9"), Class: tc.class})
			for _, s := range tc.svcs {
				e.create(t, s)
			}
			for name, want := range tc.want {
				if want != nil {
					e.waitIPs(t, name, want...)
				}
			}
			e.create(t, sentinel)
			e.waitIPs(t, "zz-sentinel", "10.3.0.2")
			for name, want := range tc.want {
				if got := e.ips(t, name); !cmp.Equal(got, want) {
					t.Errorf("service %s: got %v, want %v", name, got, want)
				}
			}
		})
	}
}

func TestReleaseOnDelete(t *testing.T) {
	e := start(t, Config{Pools: pools(t, "10.4.0.1")})
	e.create(t, lbService("a"))
	e.waitIPs(t, "a", "10.4.0.1")
	e.create(t, lbService("b"))
	e.waitEvent(t, "Warning", EventAllocationFailed, `Failed to allocate IP for "ns/b"`, ErrPoolExhausted.Error())
	if err := e.client.CoreV1().Services(testNS).Delete(e.ctx, "a", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	e.waitIPs(t, "b", "10.4.0.1")
}

func TestReleaseOnTypeChange(t *testing.T) {
	e := start(t, Config{Pools: pools(t, "10.5.0.1")})
	e.create(t, lbService("a"))
	e.waitIPs(t, "a", "10.5.0.1")
	e.create(t, lbService("b"))
	e.waitEvent(t, EventAllocationFailed)
	svc, err := e.client.CoreV1().Services(testNS).Get(e.ctx, "a", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	svc.Spec.Type = corev1.ServiceTypeClusterIP
	if _, err := e.client.CoreV1().Services(testNS).Update(e.ctx, svc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.waitIPs(t, "a")
	e.waitIPs(t, "b", "10.5.0.1")
	e.waitEvent(t, "Normal", EventDeleted, "Deleted load balancer")
}

func TestRequestedIPChange(t *testing.T) {
	e := start(t, Config{Pools: pools(t, "10.6.0.0/29")})
	e.create(t, lbService("a", withIP("10.6.0.3")))
	e.waitIPs(t, "a", "10.6.0.3")
	svc, err := e.client.CoreV1().Services(testNS).Get(e.ctx, "a", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	svc.Spec.LoadBalancerIP = "10.6.0.5"
	if _, err := e.client.CoreV1().Services(testNS).Update(e.ctx, svc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.waitIPs(t, "a", "10.6.0.5")
	e.create(t, lbService("b", withIP("10.6.0.3")))
	e.waitIPs(t, "b", "10.6.0.3")
}

func TestNoPoolsLeavesPending(t *testing.T) {
	e := start(t, Config{})
	e.create(t, lbService("a"))
	e.create(t, lbService("b"))
	// The controller notes the missing pools on its first sync; wait for
	// that and for the queue to drain.
	deadline := time.Now().Add(10 * time.Second)
	for {
		e.c.mu.Lock()
		warned := e.c.warnedNoPool
		e.c.mu.Unlock()
		if warned && e.c.queue.Len() == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("controller never synced the Services")
		}
		time.Sleep(5 * time.Millisecond) // polling interval
	}
	for _, n := range []string{"a", "b"} {
		if got := e.ips(t, n); got != nil {
			t.Errorf("service %s: got ingress %v, want none", n, got)
		}
	}
	for _, a := range e.client.Actions() {
		if a.GetSubresource() == "status" {
			t.Errorf("got status write %v, want none", a)
		}
	}
}

func TestDualStack(t *testing.T) {
	e := start(t, Config{Pools: pools(t, "10.7.0.1-10.7.0.2", "fd00:7::/126")})
	e.create(t, lbService("both", withFamilies(corev1.IPv4Protocol, corev1.IPv6Protocol)))
	e.waitIPs(t, "both", "10.7.0.1", "fd00:7::")
	e.create(t, lbService("v6", withFamilies(corev1.IPv6Protocol)))
	e.waitIPs(t, "v6", "fd00:7::1")
	e.create(t, lbService("req6", withIP("fd00:7::3")))
	e.waitIPs(t, "req6", "fd00:7::3")
}

func TestDualStackSecondaryFamilyOptional(t *testing.T) {
	e := start(t, Config{Pools: pools(t, "10.8.0.1")})
	e.create(t, lbService("both", withFamilies(corev1.IPv4Protocol, corev1.IPv6Protocol)))
	e.waitIPs(t, "both", "10.8.0.1")
	e.create(t, lbService("v6", withFamilies(corev1.IPv6Protocol)))
	e.waitEvent(t, EventAllocationFailed, "no LoadBalancer IP pool for IPv6")
}

// TestPublishesPools checks that the default controller publishes its
// pools for the announcers, correcting a stale ConfigMap.
func TestPublishesPools(t *testing.T) {
	stale := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: PoolsNamespace, Name: PoolsConfigMap},
		Data: map[string]string{PoolsKey: "10.0.0.1-10.0.0.1"}}
	e := start(t, Config{Pools: pools(t, "192.168.100.240/30", "192.168.101.1")}, stale)
	const want = "192.168.100.240-192.168.100.243,192.168.101.1-192.168.101.1"
	var got string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && got != want; time.Sleep(10 * time.Millisecond) {
		cm, err := e.client.CoreV1().ConfigMaps(PoolsNamespace).Get(e.ctx, PoolsConfigMap, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		got = cm.Data[PoolsKey]
	}
	if got != want {
		t.Errorf("published %q, want %q", got, want)
	}
}

package kubernetes

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
)

// testNow fixes the SOA serial of test zones.
var testNow = time.Unix(1700000000, 0)

func namespace(name string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
}

type svcOpt func(*corev1.Service)

func clusterIPs(ips ...string) svcOpt {
	return func(s *corev1.Service) {
		s.Spec.ClusterIP = ips[0]
		s.Spec.ClusterIPs = ips
	}
}

func headless() svcOpt { return clusterIPs(corev1.ClusterIPNone) }

func externalName(target string) svcOpt {
	return func(s *corev1.Service) {
		s.Spec.Type = corev1.ServiceTypeExternalName
		s.Spec.ExternalName = target
	}
}

func svcPort(name string, proto corev1.Protocol, p int32) svcOpt {
	return func(s *corev1.Service) {
		s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Name: name, Protocol: proto, Port: p})
	}
}

func publishNotReady() svcOpt {
	return func(s *corev1.Service) { s.Spec.PublishNotReadyAddresses = true }
}

func newService(ns, name string, opts ...svcOpt) *corev1.Service {
	s := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP},
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

type ep struct {
	ip       string
	hostname string
	ready    *bool
}

func ready(ip string) ep        { return ep{ip: ip, ready: ptr(true)} }
func notReady(ip string) ep     { return ep{ip: ip, ready: ptr(false)} }
func named(ip, host string) ep  { return ep{ip: ip, hostname: host, ready: ptr(true)} }
func unknownReady(ip string) ep { return ep{ip: ip} }

func ptr[T any](v T) *T { return &v }

type slicePort struct {
	name  string
	proto corev1.Protocol
	port  int32
}

func slice(ns, name, svc string, family discoveryv1.AddressType, ports []slicePort, eps ...ep) *discoveryv1.EndpointSlice {
	s := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: ns, Name: name,
			Labels: map[string]string{discoveryv1.LabelServiceName: svc},
		},
		AddressType: family,
	}
	for _, p := range ports {
		s.Ports = append(s.Ports, discoveryv1.EndpointPort{Name: ptr(p.name), Protocol: ptr(p.proto), Port: ptr(p.port)})
	}
	for _, e := range eps {
		de := discoveryv1.Endpoint{Addresses: []string{e.ip}, Conditions: discoveryv1.EndpointConditions{Ready: e.ready}}
		if e.hostname != "" {
			de.Hostname = ptr(e.hostname)
		}
		s.Endpoints = append(s.Endpoints, de)
	}
	return s
}

// startZone builds a Zone over a fake clientset holding objs and waits for
// its informers to sync.
func startZone(t testing.TB, objs ...runtime.Object) (*Zone, *fake.Clientset) {
	t.Helper()
	client := fake.NewClientset(objs...)
	factory := informers.NewSharedInformerFactory(client, 0)
	z, err := New(Config{Informers: factory, Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() {
		cancel()
		factory.Shutdown()
	})
	factory.Start(ctx.Done())
	waitFor(t, "zone sync", z.HasSynced)
	return z, client
}

// waitFor polls cond until it holds or a deadline passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 5*time.Millisecond, 10*time.Second, true,
		func(context.Context) (bool, error) { return cond(), nil })
	if err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

// zoneLines renders records as zone-file lines, sorted, for comparison.
func zoneLines(rrs []dns.RR) []string {
	out := make([]string, 0, len(rrs))
	for _, rr := range rrs {
		out = append(out, rr.String())
	}
	sort.Strings(out)
	return out
}

// parseZone parses zone-file lines through miekg/dns and renders them back,
// so expectations and answers share one canonical text form.
func parseZone(t testing.TB, lines []string) []string {
	t.Helper()
	rrs := make([]dns.RR, 0, len(lines))
	for _, l := range lines {
		rr, err := dns.NewRR(l)
		if err != nil {
			t.Fatalf("bad zone line %q: %v", l, err)
		}
		rrs = append(rrs, rr)
	}
	return zoneLines(rrs)
}

func diffSection(t testing.TB, section string, got []dns.RR, want []string) {
	t.Helper()
	if d := cmp.Diff(parseZone(t, want), zoneLines(got)); d != "" {
		t.Errorf("%s section mismatch (-want +got):\n%s", section, d)
	}
}

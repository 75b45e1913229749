package kubernetes

import (
	"context"
	"testing"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// soaLine is the authority record of every negative answer.
const soaLine = "cluster.local. 5 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 1700000000 7200 1800 86400 5"

func fixtures() []runtime.Object {
	http := []slicePort{{"http", corev1.ProtocolTCP, 80}}
	return []runtime.Object{
		namespace("default"), namespace("testns"),
		// ClusterIP Service with two named ports and one endpoint.
		newService("testns", "svc1", clusterIPs("10.0.0.1"), svcPort("http", corev1.ProtocolTCP, 80), svcPort("dns", corev1.ProtocolUDP, 53)),
		slice("testns", "svc1-abc", "svc1", discoveryv1.AddressTypeIPv4,
			[]slicePort{{"http", corev1.ProtocolTCP, 8080}, {"dns", corev1.ProtocolUDP, 5353}}, ready("172.0.0.10")),
		// Dual-stack ClusterIP Service.
		newService("testns", "svc6", clusterIPs("10.0.0.6", "fd00::6"), svcPort("http", corev1.ProtocolTCP, 80)),
		// Headless Service: two ready IPv4 endpoints (one with a
		// hostname), one not ready, one with unknown readiness, one IPv6.
		newService("testns", "hdls1", headless(), svcPort("http", corev1.ProtocolTCP, 80)),
		slice("testns", "hdls1-v4", "hdls1", discoveryv1.AddressTypeIPv4, http,
			ready("172.0.0.2"), named("172.0.0.3", "dup-name"), notReady("172.0.0.4"), unknownReady("172.0.0.5")),
		slice("testns", "hdls1-v6", "hdls1", discoveryv1.AddressTypeIPv6, http, ready("fd00::2")),
		// Headless Service whose only endpoint is not ready.
		newService("testns", "hdls-empty", headless(), svcPort("http", corev1.ProtocolTCP, 80)),
		slice("testns", "hdls-empty-x", "hdls-empty", discoveryv1.AddressTypeIPv4, http, notReady("172.0.0.30")),
		// publishNotReadyAddresses: the EndpointSlice controller marks
		// every endpoint ready; a stale not-ready one is published too.
		newService("testns", "hdls-pub", headless(), publishNotReady(), svcPort("http", corev1.ProtocolTCP, 80)),
		slice("testns", "hdls-pub-x", "hdls-pub", discoveryv1.AddressTypeIPv4, http, ready("172.0.0.20"), notReady("172.0.0.21")),
		// StatefulSet-style governing Service.
		newService("default", "nginx", headless(), svcPort("web", corev1.ProtocolTCP, 80)),
		slice("default", "nginx-1", "nginx", discoveryv1.AddressTypeIPv4, []slicePort{{"web", corev1.ProtocolTCP, 80}},
			named("172.0.1.0", "web-0"), named("172.0.1.1", "web-1")),
		// ExternalName Services, outside and inside the cluster domain.
		newService("testns", "ext", externalName("ext.interwebs.test")),
		newService("testns", "ext-in", externalName("svc1.testns.svc.cluster.local")),
		// A slice whose Service does not exist.
		slice("testns", "orphan-1", "orphan", discoveryv1.AddressTypeIPv4, http, ready("172.0.0.99")),
	}
}

func TestLookup(t *testing.T) {
	z, _ := startZone(t, fixtures()...)
	tests := []struct {
		name    string
		qname   string
		qtype   uint16
		notOurs bool
		rcode   int
		answer  []string
		ns      []string
		extra   []string
	}{
		{
			name: "ClusterIP A", qname: "svc1.testns.svc.cluster.local.", qtype: dns.TypeA,
			answer: []string{"svc1.testns.svc.cluster.local. 5 IN A 10.0.0.1"},
		},
		{
			name: "mixed case keeps the question's spelling", qname: "SvC1.TestNS.svc.Cluster.LOCAL.", qtype: dns.TypeA,
			answer: []string{"SvC1.TestNS.svc.Cluster.LOCAL. 5 IN A 10.0.0.1"},
		},
		{
			name: "AAAA for an IPv4-only Service is NODATA", qname: "svc1.testns.svc.cluster.local.", qtype: dns.TypeAAAA,
			ns: []string{soaLine},
		},
		{
			name: "dual-stack A", qname: "svc6.testns.svc.cluster.local.", qtype: dns.TypeA,
			answer: []string{"svc6.testns.svc.cluster.local. 5 IN A 10.0.0.6"},
		},
		{
			name: "dual-stack AAAA", qname: "svc6.testns.svc.cluster.local.", qtype: dns.TypeAAAA,
			answer: []string{"svc6.testns.svc.cluster.local. 5 IN AAAA fd00::6"},
		},
		{
			name: "TXT on a Service is NODATA", qname: "svc1.testns.svc.cluster.local.", qtype: dns.TypeTXT,
			ns: []string{soaLine},
		},
		{
			name: "SRV on the Service name lists every port", qname: "svc1.testns.svc.cluster.local.", qtype: dns.TypeSRV,
			answer: []string{
				"svc1.testns.svc.cluster.local. 5 IN SRV 0 50 80 svc1.testns.svc.cluster.local.",
				"svc1.testns.svc.cluster.local. 5 IN SRV 0 50 53 svc1.testns.svc.cluster.local.",
			},
			extra: []string{"svc1.testns.svc.cluster.local. 5 IN A 10.0.0.1"},
		},
		{
			name: "SRV for a named port of a ClusterIP Service", qname: "_http._tcp.svc1.testns.svc.cluster.local.", qtype: dns.TypeSRV,
			answer: []string{"_http._tcp.svc1.testns.svc.cluster.local. 5 IN SRV 0 100 80 svc1.testns.svc.cluster.local."},
			extra:  []string{"svc1.testns.svc.cluster.local. 5 IN A 10.0.0.1"},
		},
		{
			name: "SRV for a UDP port", qname: "_dns._udp.svc1.testns.svc.cluster.local.", qtype: dns.TypeSRV,
			answer: []string{"_dns._udp.svc1.testns.svc.cluster.local. 5 IN SRV 0 100 53 svc1.testns.svc.cluster.local."},
			extra:  []string{"svc1.testns.svc.cluster.local. 5 IN A 10.0.0.1"},
		},
		{
			name: "SRV with the wrong protocol is NXDOMAIN", qname: "_http._udp.svc1.testns.svc.cluster.local.", qtype: dns.TypeSRV,
			rcode: dns.RcodeNameError, ns: []string{soaLine},
		},
		{
			name: "SRV name without underscores is NXDOMAIN", qname: "http.tcp.svc1.testns.svc.cluster.local.", qtype: dns.TypeSRV,
			rcode: dns.RcodeNameError, ns: []string{soaLine},
		},
		{
			name: "A on an SRV name is NODATA", qname: "_http._tcp.svc1.testns.svc.cluster.local.", qtype: dns.TypeA,
			ns: []string{soaLine},
		},
		{
			name: "endpoint of a ClusterIP Service by dashed IP", qname: "172-0-0-10.svc1.testns.svc.cluster.local.", qtype: dns.TypeA,
			answer: []string{"172-0-0-10.svc1.testns.svc.cluster.local. 5 IN A 172.0.0.10"},
		},
		{
			name: "missing Service is NXDOMAIN", qname: "nosvc.testns.svc.cluster.local.", qtype: dns.TypeA,
			rcode: dns.RcodeNameError, ns: []string{soaLine},
		},
		{
			name: "slice without its Service is NXDOMAIN", qname: "orphan.testns.svc.cluster.local.", qtype: dns.TypeA,
			rcode: dns.RcodeNameError, ns: []string{soaLine},
		},
		{
			name: "missing namespace is NXDOMAIN", qname: "svc1.nons.svc.cluster.local.", qtype: dns.TypeA,
			rcode: dns.RcodeNameError, ns: []string{soaLine},
		},
		{
			name: "existing namespace is NODATA", qname: "testns.svc.cluster.local.", qtype: dns.TypeA,
			ns: []string{soaLine},
		},
		{
			name: "missing namespace name is NXDOMAIN", qname: "nons.svc.cluster.local.", qtype: dns.TypeA,
			rcode: dns.RcodeNameError, ns: []string{soaLine},
		},
		{
			name: "svc.<domain> is NODATA", qname: "svc.cluster.local.", qtype: dns.TypeA,
			ns: []string{soaLine},
		},
		{
			name: "pod.<domain> is NODATA", qname: "pod.cluster.local.", qtype: dns.TypeA,
			ns: []string{soaLine},
		},
		{
			name: "apex A is NODATA", qname: "cluster.local.", qtype: dns.TypeA,
			ns: []string{soaLine},
		},
		{
			name: "apex SOA", qname: "cluster.local.", qtype: dns.TypeSOA,
			answer: []string{soaLine},
		},
		{
			name: "unknown label under the domain is NXDOMAIN", qname: "foo.cluster.local.", qtype: dns.TypeA,
			rcode: dns.RcodeNameError, ns: []string{soaLine},
		},
		{
			name: "too many labels is NXDOMAIN", qname: "a.b.c.svc1.testns.svc.cluster.local.", qtype: dns.TypeA,
			rcode: dns.RcodeNameError, ns: []string{soaLine},
		},
		{
			name: "dns-version TXT", qname: "dns-version.cluster.local.", qtype: dns.TypeTXT,
			answer: []string{`dns-version.cluster.local. 28800 IN TXT "1.1.0"`},
		},
		{
			name: "dns-version A is NODATA", qname: "dns-version.cluster.local.", qtype: dns.TypeA,
			ns: []string{soaLine},
		},
		{
			name: "headless A lists ready endpoints", qname: "hdls1.testns.svc.cluster.local.", qtype: dns.TypeA,
			answer: []string{
				"hdls1.testns.svc.cluster.local. 5 IN A 172.0.0.2",
				"hdls1.testns.svc.cluster.local. 5 IN A 172.0.0.3",
				"hdls1.testns.svc.cluster.local. 5 IN A 172.0.0.5",
			},
		},
		{
			name: "headless AAAA", qname: "hdls1.testns.svc.cluster.local.", qtype: dns.TypeAAAA,
			answer: []string{"hdls1.testns.svc.cluster.local. 5 IN AAAA fd00::2"},
		},
		{
			name: "headless without ready endpoints is NXDOMAIN", qname: "hdls-empty.testns.svc.cluster.local.", qtype: dns.TypeA,
			rcode: dns.RcodeNameError, ns: []string{soaLine},
		},
		{
			name: "headless with publishNotReadyAddresses lists all endpoints", qname: "hdls-pub.testns.svc.cluster.local.", qtype: dns.TypeA,
			answer: []string{
				"hdls-pub.testns.svc.cluster.local. 5 IN A 172.0.0.20",
				"hdls-pub.testns.svc.cluster.local. 5 IN A 172.0.0.21",
			},
		},
		{
			name: "headless SRV: one per endpoint, hostname or dashed IP targets", qname: "_http._tcp.hdls1.testns.svc.cluster.local.", qtype: dns.TypeSRV,
			answer: []string{
				"_http._tcp.hdls1.testns.svc.cluster.local. 5 IN SRV 0 25 80 172-0-0-2.hdls1.testns.svc.cluster.local.",
				"_http._tcp.hdls1.testns.svc.cluster.local. 5 IN SRV 0 25 80 dup-name.hdls1.testns.svc.cluster.local.",
				"_http._tcp.hdls1.testns.svc.cluster.local. 5 IN SRV 0 25 80 172-0-0-5.hdls1.testns.svc.cluster.local.",
				"_http._tcp.hdls1.testns.svc.cluster.local. 5 IN SRV 0 25 80 fd00--2.hdls1.testns.svc.cluster.local.",
			},
			extra: []string{
				"172-0-0-2.hdls1.testns.svc.cluster.local. 5 IN A 172.0.0.2",
				"dup-name.hdls1.testns.svc.cluster.local. 5 IN A 172.0.0.3",
				"172-0-0-5.hdls1.testns.svc.cluster.local. 5 IN A 172.0.0.5",
				"fd00--2.hdls1.testns.svc.cluster.local. 5 IN AAAA fd00::2",
			},
		},
		{
			name: "headless endpoint by hostname", qname: "dup-name.hdls1.testns.svc.cluster.local.", qtype: dns.TypeA,
			answer: []string{"dup-name.hdls1.testns.svc.cluster.local. 5 IN A 172.0.0.3"},
		},
		{
			name: "headless endpoint by dashed IP", qname: "172-0-0-2.hdls1.testns.svc.cluster.local.", qtype: dns.TypeA,
			answer: []string{"172-0-0-2.hdls1.testns.svc.cluster.local. 5 IN A 172.0.0.2"},
		},
		{
			name: "headless endpoint by dashed IPv6", qname: "fd00--2.hdls1.testns.svc.cluster.local.", qtype: dns.TypeAAAA,
			answer: []string{"fd00--2.hdls1.testns.svc.cluster.local. 5 IN AAAA fd00::2"},
		},
		{
			name: "not-ready endpoint is NXDOMAIN", qname: "172-0-0-4.hdls1.testns.svc.cluster.local.", qtype: dns.TypeA,
			rcode: dns.RcodeNameError, ns: []string{soaLine},
		},
		{
			name: "endpoint AAAA on an IPv4 endpoint is NODATA", qname: "dup-name.hdls1.testns.svc.cluster.local.", qtype: dns.TypeAAAA,
			ns: []string{soaLine},
		},
		{
			name: "StatefulSet pod hostname", qname: "web-0.nginx.default.svc.cluster.local.", qtype: dns.TypeA,
			answer: []string{"web-0.nginx.default.svc.cluster.local. 5 IN A 172.0.1.0"},
		},
		{
			name: "StatefulSet SRV", qname: "_web._tcp.nginx.default.svc.cluster.local.", qtype: dns.TypeSRV,
			answer: []string{
				"_web._tcp.nginx.default.svc.cluster.local. 5 IN SRV 0 50 80 web-0.nginx.default.svc.cluster.local.",
				"_web._tcp.nginx.default.svc.cluster.local. 5 IN SRV 0 50 80 web-1.nginx.default.svc.cluster.local.",
			},
			extra: []string{
				"web-0.nginx.default.svc.cluster.local. 5 IN A 172.0.1.0",
				"web-1.nginx.default.svc.cluster.local. 5 IN A 172.0.1.1",
			},
		},
		{
			name: "pod A from its name", qname: "1-2-3-4.testns.pod.cluster.local.", qtype: dns.TypeA,
			answer: []string{"1-2-3-4.testns.pod.cluster.local. 5 IN A 1.2.3.4"},
		},
		{
			name: "pod AAAA on an IPv4 name is NODATA", qname: "1-2-3-4.testns.pod.cluster.local.", qtype: dns.TypeAAAA,
			ns: []string{soaLine},
		},
		{
			name: "pod AAAA from its name", qname: "fd00--1.testns.pod.cluster.local.", qtype: dns.TypeAAAA,
			answer: []string{"fd00--1.testns.pod.cluster.local. 5 IN AAAA fd00::1"},
		},
		{
			name: "pod name that is no IP is NXDOMAIN", qname: "not-an-ip.testns.pod.cluster.local.", qtype: dns.TypeA,
			rcode: dns.RcodeNameError, ns: []string{soaLine},
		},
		{
			name: "pod in a missing namespace is NXDOMAIN", qname: "1-2-3-4.nons.pod.cluster.local.", qtype: dns.TypeA,
			rcode: dns.RcodeNameError, ns: []string{soaLine},
		},
		{
			name: "PTR of a ClusterIP", qname: "1.0.0.10.in-addr.arpa.", qtype: dns.TypePTR,
			answer: []string{"1.0.0.10.in-addr.arpa. 5 IN PTR svc1.testns.svc.cluster.local."},
		},
		{
			name: "PTR of an IPv6 ClusterIP", qname: "6.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa.", qtype: dns.TypePTR,
			answer: []string{"6.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa. 5 IN PTR svc6.testns.svc.cluster.local."},
		},
		{
			name: "PTR of a headless endpoint with hostname", qname: "3.0.0.172.in-addr.arpa.", qtype: dns.TypePTR,
			answer: []string{"3.0.0.172.in-addr.arpa. 5 IN PTR dup-name.hdls1.testns.svc.cluster.local."},
		},
		{
			name: "PTR of a headless endpoint without hostname", qname: "2.0.0.172.in-addr.arpa.", qtype: dns.TypePTR,
			answer: []string{"2.0.0.172.in-addr.arpa. 5 IN PTR 172-0-0-2.hdls1.testns.svc.cluster.local."},
		},
		{
			name: "PTR of a StatefulSet pod", qname: "1.1.0.172.in-addr.arpa.", qtype: dns.TypePTR,
			answer: []string{"1.1.0.172.in-addr.arpa. 5 IN PTR web-1.nginx.default.svc.cluster.local."},
		},
		{
			name: "PTR of a not-ready endpoint is not ours", qname: "4.0.0.172.in-addr.arpa.", qtype: dns.TypePTR,
			notOurs: true,
		},
		{
			name: "PTR of an unknown IP is not ours", qname: "9.9.9.10.in-addr.arpa.", qtype: dns.TypePTR,
			notOurs: true,
		},
		{
			name: "ExternalName A is a CNAME", qname: "ext.testns.svc.cluster.local.", qtype: dns.TypeA,
			answer: []string{"ext.testns.svc.cluster.local. 5 IN CNAME ext.interwebs.test."},
		},
		{
			name: "ExternalName CNAME", qname: "ext.testns.svc.cluster.local.", qtype: dns.TypeCNAME,
			answer: []string{"ext.testns.svc.cluster.local. 5 IN CNAME ext.interwebs.test."},
		},
		{
			name: "ExternalName SRV is NODATA", qname: "ext.testns.svc.cluster.local.", qtype: dns.TypeSRV,
			ns: []string{soaLine},
		},
		{
			name: "ExternalName inside the cluster is followed", qname: "ext-in.testns.svc.cluster.local.", qtype: dns.TypeA,
			answer: []string{
				"ext-in.testns.svc.cluster.local. 5 IN CNAME svc1.testns.svc.cluster.local.",
				"svc1.testns.svc.cluster.local. 5 IN A 10.0.0.1",
			},
		},
		{
			name: "name outside the domain is not ours", qname: "example.com.", qtype: dns.TypeA,
			notOurs: true,
		},
		{
			name: "name without trailing dot", qname: "svc1.testns.svc.cluster.local", qtype: dns.TypeA,
			answer: []string{"svc1.testns.svc.cluster.local. 5 IN A 10.0.0.1"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := z.Lookup(tc.qname, tc.qtype)
			if ok == tc.notOurs {
				t.Fatalf("got ok %v, want %v", ok, !tc.notOurs)
			}
			if !ok {
				return
			}
			if got.Rcode != tc.rcode {
				t.Errorf("got rcode %s, want %s", dns.RcodeToString[got.Rcode], dns.RcodeToString[tc.rcode])
			}
			diffSection(t, "answer", got.Answer, tc.answer)
			diffSection(t, "authority", got.Ns, tc.ns)
			diffSection(t, "additional", got.Extra, tc.extra)
		})
	}
}

// TestLookupFollowsChanges checks that answers follow Service and
// EndpointSlice changes made through the API.
func TestLookupFollowsChanges(t *testing.T) {
	z, client := startZone(t, fixtures()...)
	ctx := context.Background()
	answer := func(name string, qtype uint16) []string {
		resp, _ := z.Lookup(name, qtype)
		return zoneLines(resp.Answer)
	}
	same := func(got, want []string) bool {
		if len(got) != len(want) {
			return false
		}
		for i := range got {
			if got[i] != want[i] {
				return false
			}
		}
		return true
	}

	// A new Service appears with its A and PTR records.
	if _, err := client.CoreV1().Services("testns").Create(ctx,
		newService("testns", "late", clusterIPs("10.0.0.50"), svcPort("http", corev1.ProtocolTCP, 80)), metav1.CreateOptions{}); err != nil {
		t.Fatalf("create Service: %v", err)
	}
	wantA := parseZone(t, []string{"late.testns.svc.cluster.local. 5 IN A 10.0.0.50"})
	waitFor(t, "new Service A", func() bool { return same(answer("late.testns.svc.cluster.local.", dns.TypeA), wantA) })
	wantPTR := parseZone(t, []string{"50.0.0.10.in-addr.arpa. 5 IN PTR late.testns.svc.cluster.local."})
	if got := answer("50.0.0.10.in-addr.arpa.", dns.TypePTR); !same(got, wantPTR) {
		t.Errorf("got PTR %v, want %v", got, wantPTR)
	}

	// An endpoint of a headless Service turns ready.
	s := slice("testns", "hdls-empty-x", "hdls-empty", discoveryv1.AddressTypeIPv4,
		[]slicePort{{"http", corev1.ProtocolTCP, 80}}, ready("172.0.0.30"))
	if _, err := client.DiscoveryV1().EndpointSlices("testns").Update(ctx, s, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("update EndpointSlice: %v", err)
	}
	wantA = parseZone(t, []string{"hdls-empty.testns.svc.cluster.local. 5 IN A 172.0.0.30"})
	waitFor(t, "ready endpoint", func() bool { return same(answer("hdls-empty.testns.svc.cluster.local.", dns.TypeA), wantA) })

	// Deleting the Service removes its names and reverse records.
	if err := client.CoreV1().Services("testns").Delete(ctx, "late", metav1.DeleteOptions{}); err != nil {
		t.Fatalf("delete Service: %v", err)
	}
	waitFor(t, "deleted Service NXDOMAIN", func() bool {
		resp, _ := z.Lookup("late.testns.svc.cluster.local.", dns.TypeA)
		return resp.Rcode == dns.RcodeNameError
	})
	if _, ok := z.Lookup("50.0.0.10.in-addr.arpa.", dns.TypePTR); ok {
		t.Errorf("got a PTR answer for a deleted ClusterIP, want none")
	}
}

func TestReverseIP(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{name: "IPv4", in: "4.3.2.1.in-addr.arpa.", want: "1.2.3.4"},
		{name: "IPv4 partial", in: "3.2.1.in-addr.arpa.", want: ""},
		{name: "IPv4 leading zero", in: "04.3.2.1.in-addr.arpa.", want: ""},
		{name: "IPv4 out of range", in: "256.3.2.1.in-addr.arpa.", want: ""},
		{name: "IPv6", in: "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa.", want: "fd00::1"},
		{name: "IPv6 short", in: "1.0.d.f.ip6.arpa.", want: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ip, ok := reverseIP(tc.in)
			got := ""
			if ok {
				got = ip.String()
			}
			if got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

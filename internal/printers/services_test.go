package printers

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestServices(t *testing.T) {
	meta := metav1.ObjectMeta{Name: "web", Namespace: "default", CreationTimestamp: ago(10 * time.Minute)}
	http := corev1.ServicePort{Port: 80, Protocol: corev1.ProtocolTCP}
	tests := []struct {
		name string
		spec corev1.ServiceSpec
		lb   []corev1.LoadBalancerIngress
		want []any
	}{
		{
			name: "cluster IP",
			spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, ClusterIP: "10.96.0.10", ClusterIPs: []string{"10.96.0.10"},
				Ports: []corev1.ServicePort{http}, Selector: map[string]string{"app": "web"}},
			want: []any{"web", "ClusterIP", "10.96.0.10", "<none>", "80/TCP", "10m", "app=web"},
		},
		{
			name: "dual stack shows the primary cluster IP",
			spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, ClusterIPs: []string{"fd00::10", "10.96.0.10"}, Ports: []corev1.ServicePort{http}},
			want: []any{"web", "ClusterIP", "fd00::10", "<none>", "80/TCP", "10m", "<none>"},
		},
		{
			name: "cluster IP without clusterIPs",
			spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, ClusterIP: "10.96.0.11", Ports: []corev1.ServicePort{http}},
			want: []any{"web", "ClusterIP", "10.96.0.11", "<none>", "80/TCP", "10m", "<none>"},
		},
		{
			name: "headless",
			spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, ClusterIP: "None", ClusterIPs: []string{"None"}, Ports: []corev1.ServicePort{http}},
			want: []any{"web", "ClusterIP", "None", "<none>", "80/TCP", "10m", "<none>"},
		},
		{
			name: "no ports",
			spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, ClusterIPs: []string{"None"}},
			want: []any{"web", "ClusterIP", "None", "<none>", "<none>", "10m", "<none>"},
		},
		{
			name: "multi-port",
			spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, ClusterIPs: []string{"10.96.0.10"},
				Ports: []corev1.ServicePort{http, {Name: "https", Port: 443, Protocol: corev1.ProtocolTCP}, {Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP}}},
			want: []any{"web", "ClusterIP", "10.96.0.10", "<none>", "80/TCP,443/TCP,53/UDP", "10m", "<none>"},
		},
		{
			name: "external IPs",
			spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, ClusterIPs: []string{"10.96.0.10"}, ExternalIPs: []string{"192.0.2.1", "192.0.2.2"}, Ports: []corev1.ServicePort{http}},
			want: []any{"web", "ClusterIP", "10.96.0.10", "192.0.2.1,192.0.2.2", "80/TCP", "10m", "<none>"},
		},
		{
			name: "node port",
			spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, ClusterIPs: []string{"10.96.0.10"},
				Ports: []corev1.ServicePort{{Port: 8080, NodePort: 30001, Protocol: corev1.ProtocolTCP}}},
			want: []any{"web", "NodePort", "10.96.0.10", "<none>", "8080:30001/TCP", "10m", "<none>"},
		},
		{
			name: "load balancer pending",
			spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, ClusterIPs: []string{"10.96.0.10"},
				Ports: []corev1.ServicePort{{Port: 80, NodePort: 31000, Protocol: corev1.ProtocolTCP}}},
			want: []any{"web", "LoadBalancer", "10.96.0.10", "<pending>", "80:31000/TCP", "10m", "<none>"},
		},
		{
			name: "load balancer ingress sorted and deduplicated, never clipped",
			spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, ClusterIPs: []string{"10.96.0.10"},
				Ports: []corev1.ServicePort{{Port: 80, NodePort: 31000, Protocol: corev1.ProtocolTCP}}},
			lb:   []corev1.LoadBalancerIngress{{IP: "198.51.100.20"}, {Hostname: "lb.example.com"}, {IP: "198.51.100.10"}, {IP: "198.51.100.20"}, {}},
			want: []any{"web", "LoadBalancer", "10.96.0.10", "198.51.100.10,198.51.100.20,lb.example.com", "80:31000/TCP", "10m", "<none>"},
		},
		{
			name: "load balancer ingress then external IPs",
			spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, ClusterIPs: []string{"10.96.0.10"}, ExternalIPs: []string{"192.0.2.1"},
				Ports: []corev1.ServicePort{{Port: 80, NodePort: 31000, Protocol: corev1.ProtocolTCP}}},
			lb:   []corev1.LoadBalancerIngress{{IP: "198.51.100.10"}},
			want: []any{"web", "LoadBalancer", "10.96.0.10", "198.51.100.10,192.0.2.1", "80:31000/TCP", "10m", "<none>"},
		},
		{
			name: "load balancer pending with external IPs",
			spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, ClusterIPs: []string{"10.96.0.10"}, ExternalIPs: []string{"192.0.2.1"},
				Ports: []corev1.ServicePort{{Port: 80, NodePort: 31000, Protocol: corev1.ProtocolTCP}}},
			want: []any{"web", "LoadBalancer", "10.96.0.10", "192.0.2.1", "80:31000/TCP", "10m", "<none>"},
		},
		{
			name: "external name",
			spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "db.example.com"},
			want: []any{"web", "ExternalName", "<none>", "db.example.com", "<none>", "10m", "<none>"},
		},
		{
			name: "unknown type",
			spec: corev1.ServiceSpec{ClusterIPs: []string{"10.96.0.10"}, Ports: []corev1.ServicePort{http}},
			want: []any{"web", "", "10.96.0.10", "<unknown>", "80/TCP", "10m", "<none>"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			svc := &corev1.Service{ObjectMeta: meta, Spec: tc.spec}
			svc.Status.LoadBalancer.Ingress = tc.lb
			if diff := cmp.Diff(tc.want, rowOf(t, testPrinter().Services, svc)); diff != "" {
				t.Errorf("cells (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEndpoints(t *testing.T) {
	addrs := func(ips ...string) []corev1.EndpointAddress {
		var out []corev1.EndpointAddress
		for _, ip := range ips {
			out = append(out, corev1.EndpointAddress{IP: ip})
		}
		return out
	}
	tests := []struct {
		name    string
		subsets []corev1.EndpointSubset
		want    string
	}{
		{name: "no subsets", want: "<none>"},
		{
			name:    "one port",
			subsets: []corev1.EndpointSubset{{Addresses: addrs("10.0.0.1", "10.0.0.2"), Ports: []corev1.EndpointPort{{Port: 80}}}},
			want:    "10.0.0.1:80,10.0.0.2:80",
		},
		{
			name:    "truncated after three",
			subsets: []corev1.EndpointSubset{{Addresses: addrs("10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5"), Ports: []corev1.EndpointPort{{Port: 80}}}},
			want:    "10.0.0.1:80,10.0.0.2:80,10.0.0.3:80 + 2 more...",
		},
		{
			name:    "every port of every address counts",
			subsets: []corev1.EndpointSubset{{Addresses: addrs("10.0.0.1", "10.0.0.2"), Ports: []corev1.EndpointPort{{Port: 80}, {Port: 443}}}},
			want:    "10.0.0.1:80,10.0.0.2:80,10.0.0.1:443 + 1 more...",
		},
		{
			name: "across subsets",
			subsets: []corev1.EndpointSubset{
				{Addresses: addrs("10.0.0.1"), Ports: []corev1.EndpointPort{{Port: 80}}},
				{Addresses: addrs("10.0.0.2", "10.0.0.3", "10.0.0.4"), Ports: []corev1.EndpointPort{{Port: 8080}}},
			},
			want: "10.0.0.1:80,10.0.0.2:8080,10.0.0.3:8080 + 1 more...",
		},
		{
			name:    "headless without ports",
			subsets: []corev1.EndpointSubset{{Addresses: addrs("10.0.0.1", "10.0.0.2")}},
			want:    "10.0.0.1,10.0.0.2",
		},
		{
			name:    "IPv6 is bracketed",
			subsets: []corev1.EndpointSubset{{Addresses: addrs("fd00::1"), Ports: []corev1.EndpointPort{{Port: 80}}}},
			want:    "[fd00::1]:80",
		},
		{
			name:    "not ready addresses are not shown",
			subsets: []corev1.EndpointSubset{{NotReadyAddresses: addrs("10.0.0.9"), Ports: []corev1.EndpointPort{{Port: 80}}}},
			want:    "",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ep := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: "web", CreationTimestamp: ago(time.Hour)}, Subsets: tc.subsets}
			want := []any{"web", tc.want, "60m"}
			if diff := cmp.Diff(want, rowOf(t, testPrinter().Endpoints, ep)); diff != "" {
				t.Errorf("cells (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEndpointSlices(t *testing.T) {
	port := func(p int32) discoveryv1.EndpointPort { return discoveryv1.EndpointPort{Port: &p} }
	tests := []struct {
		name      string
		ports     []discoveryv1.EndpointPort
		endpoints []discoveryv1.Endpoint
		wantPorts string
		wantEPs   string
	}{
		{name: "empty", wantPorts: "<unset>", wantEPs: "<unset>"},
		{
			name:      "ports and addresses",
			ports:     []discoveryv1.EndpointPort{port(80), port(443)},
			endpoints: []discoveryv1.Endpoint{{Addresses: []string{"10.0.0.1"}}, {Addresses: []string{"10.0.0.2"}, Conditions: discoveryv1.EndpointConditions{Ready: ptrTo(false)}}},
			wantPorts: "80,443",
			wantEPs:   "10.0.0.1,10.0.0.2",
		},
		{
			name:      "all ports and named ports",
			ports:     []discoveryv1.EndpointPort{{}, {Name: ptrTo("http")}},
			wantPorts: "*,http",
			wantEPs:   "<unset>",
		},
		{
			name:      "truncated",
			ports:     []discoveryv1.EndpointPort{port(1), port(2), port(3), port(4), port(5)},
			endpoints: []discoveryv1.Endpoint{{Addresses: []string{"10.0.0.1", "10.0.0.2"}}, {Addresses: []string{"10.0.0.3"}}, {Addresses: []string{"10.0.0.4"}}},
			wantPorts: "1,2,3 + 2 more...",
			wantEPs:   "10.0.0.1,10.0.0.2,10.0.0.3 + 1 more...",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &discoveryv1.EndpointSlice{
				ObjectMeta:  metav1.ObjectMeta{Name: "web-abcde", CreationTimestamp: ago(2 * time.Minute)},
				AddressType: discoveryv1.AddressTypeIPv4, Ports: tc.ports, Endpoints: tc.endpoints,
			}
			want := []any{"web-abcde", "IPv4", tc.wantPorts, tc.wantEPs, "2m"}
			if diff := cmp.Diff(want, rowOf(t, testPrinter().EndpointSlices, s)); diff != "" {
				t.Errorf("cells (-want +got):\n%s", diff)
			}
		})
	}
}

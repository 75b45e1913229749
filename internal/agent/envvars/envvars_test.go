package envvars

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func svc(ns, name, ip string, ports ...v1.ServicePort) *v1.Service {
	return &v1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       v1.ServiceSpec{ClusterIP: ip, Ports: ports},
	}
}

func TestFromServices(t *testing.T) {
	tests := []struct {
		name     string
		services []*v1.Service
		want     []v1.EnvVar
	}{
		{
			name: "single unnamed tcp port",
			services: []*v1.Service{svc("ns", "my-svc", "10.96.0.10",
				v1.ServicePort{Port: 80, Protocol: v1.ProtocolTCP})},
			want: []v1.EnvVar{
				{Name: "MY_SVC_SERVICE_HOST", Value: "10.96.0.10"},
				{Name: "MY_SVC_SERVICE_PORT", Value: "80"},
				{Name: "MY_SVC_PORT", Value: "tcp://10.96.0.10:80"},
				{Name: "MY_SVC_PORT_80_TCP", Value: "tcp://10.96.0.10:80"},
				{Name: "MY_SVC_PORT_80_TCP_PROTO", Value: "tcp"},
				{Name: "MY_SVC_PORT_80_TCP_PORT", Value: "80"},
				{Name: "MY_SVC_PORT_80_TCP_ADDR", Value: "10.96.0.10"},
			},
		},
		{
			name: "named ports and udp",
			services: []*v1.Service{svc("ns", "dns", "10.96.0.10",
				v1.ServicePort{Name: "dns-tcp", Port: 53, Protocol: v1.ProtocolTCP},
				v1.ServicePort{Name: "dns", Port: 53, Protocol: v1.ProtocolUDP})},
			want: []v1.EnvVar{
				{Name: "DNS_SERVICE_HOST", Value: "10.96.0.10"},
				{Name: "DNS_SERVICE_PORT", Value: "53"},
				{Name: "DNS_SERVICE_PORT_DNS_TCP", Value: "53"},
				{Name: "DNS_SERVICE_PORT_DNS", Value: "53"},
				{Name: "DNS_PORT", Value: "tcp://10.96.0.10:53"},
				{Name: "DNS_PORT_53_TCP", Value: "tcp://10.96.0.10:53"},
				{Name: "DNS_PORT_53_TCP_PROTO", Value: "tcp"},
				{Name: "DNS_PORT_53_TCP_PORT", Value: "53"},
				{Name: "DNS_PORT_53_TCP_ADDR", Value: "10.96.0.10"},
				{Name: "DNS_PORT_53_UDP", Value: "udp://10.96.0.10:53"},
				{Name: "DNS_PORT_53_UDP_PROTO", Value: "udp"},
				{Name: "DNS_PORT_53_UDP_PORT", Value: "53"},
				{Name: "DNS_PORT_53_UDP_ADDR", Value: "10.96.0.10"},
			},
		},
		{
			name: "ipv6 cluster ip is bracketed in urls",
			services: []*v1.Service{svc("ns", "v6", "fd00::a",
				v1.ServicePort{Port: 443, Protocol: v1.ProtocolTCP})},
			want: []v1.EnvVar{
				{Name: "V6_SERVICE_HOST", Value: "fd00::a"},
				{Name: "V6_SERVICE_PORT", Value: "443"},
				{Name: "V6_PORT", Value: "tcp://[fd00::a]:443"},
				{Name: "V6_PORT_443_TCP", Value: "tcp://[fd00::a]:443"},
				{Name: "V6_PORT_443_TCP_PROTO", Value: "tcp"},
				{Name: "V6_PORT_443_TCP_PORT", Value: "443"},
				{Name: "V6_PORT_443_TCP_ADDR", Value: "fd00::a"},
			},
		},
		{
			name: "headless service has no variables",
			services: []*v1.Service{svc("ns", "headless", v1.ClusterIPNone,
				v1.ServicePort{Port: 80})},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := FromServices(tc.services)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("FromServices() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSelectServices(t *testing.T) {
	kube := svc("default", "kubernetes", "10.96.0.1", v1.ServicePort{Port: 443})
	other := svc("default", "other", "10.96.0.5", v1.ServicePort{Port: 80})
	mine := svc("app", "web", "10.96.0.20", v1.ServicePort{Port: 80})
	headless := svc("app", "db", v1.ClusterIPNone, v1.ServicePort{Port: 5432})
	ext := svc("app", "ext", "", v1.ServicePort{Port: 80})
	ext.Spec.Type = v1.ServiceTypeExternalName
	localKube := svc("app", "kubernetes", "10.96.0.99", v1.ServicePort{Port: 1})
	all := []*v1.Service{kube, other, mine, headless, ext}

	tests := []struct {
		name     string
		services []*v1.Service
		ns       string
		links    bool
		want     []string
	}{
		{name: "links on", services: all, ns: "app", links: true, want: []string{"default/kubernetes", "app/web"}},
		{name: "links off keeps master service", services: all, ns: "app", links: false, want: []string{"default/kubernetes"}},
		{name: "default namespace", services: all, ns: "default", links: true, want: []string{"default/kubernetes", "default/other"}},
		{name: "local service shadows master service", services: []*v1.Service{kube, localKube}, ns: "app", links: true,
			want: []string{"app/kubernetes"}},
		{name: "local service shadows master service in any order", services: []*v1.Service{localKube, kube}, ns: "app", links: true,
			want: []string{"app/kubernetes"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, s := range SelectServices(tc.services, tc.ns, tc.links) {
				got = append(got, s.Namespace+"/"+s.Name)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("SelectServices() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMerge(t *testing.T) {
	got := Merge(
		[]v1.EnvVar{{Name: "WEB_SERVICE_HOST", Value: "override"}, {Name: "A", Value: "1"}},
		[]v1.EnvVar{{Name: "WEB_SERVICE_HOST", Value: "10.0.0.1"}, {Name: "WEB_SERVICE_PORT", Value: "80"}},
	)
	want := []v1.EnvVar{
		{Name: "WEB_SERVICE_HOST", Value: "override"},
		{Name: "A", Value: "1"},
		{Name: "WEB_SERVICE_PORT", Value: "80"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Merge() mismatch (-want +got):\n%s", diff)
	}
}

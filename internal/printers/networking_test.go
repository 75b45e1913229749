package printers

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestIngresses(t *testing.T) {
	rules := func(hosts ...string) []networkingv1.IngressRule {
		var out []networkingv1.IngressRule
		for _, h := range hosts {
			out = append(out, networkingv1.IngressRule{Host: h})
		}
		return out
	}
	for _, tc := range []struct {
		name string
		ing  networkingv1.Ingress
		want []any
	}{
		{
			name: "default backend only",
			ing:  networkingv1.Ingress{},
			want: []any{"web", "<none>", "*", "", "80", "5m"},
		},
		{
			name: "class, hosts, TLS and addresses",
			ing: networkingv1.Ingress{
				Spec: networkingv1.IngressSpec{IngressClassName: ptrTo("nginx"), Rules: rules("a.example.com", "", "b.example.com"),
					TLS: []networkingv1.IngressTLS{{Hosts: []string{"a.example.com"}}}},
				Status: networkingv1.IngressStatus{LoadBalancer: networkingv1.IngressLoadBalancerStatus{Ingress: []networkingv1.IngressLoadBalancerIngress{
					{IP: "192.0.2.9"}, {Hostname: "lb.example.com"}, {IP: "192.0.2.1"}, {IP: "192.0.2.9"}}}},
			},
			want: []any{"web", "nginx", "a.example.com,b.example.com", "192.0.2.1,192.0.2.9,lb.example.com", "80, 443", "5m"},
		},
		{
			name: "more than three hosts",
			ing:  networkingv1.Ingress{Spec: networkingv1.IngressSpec{Rules: rules("a", "b", "c", "d", "e")}},
			want: []any{"web", "<none>", "a,b,c + 2 more...", "", "80", "5m"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ing := tc.ing
			ing.ObjectMeta = metav1.ObjectMeta{Name: "web", Namespace: "default", CreationTimestamp: ago(5 * time.Minute)}
			if diff := cmp.Diff(tc.want, rowOf(t, testPrinter().Ingresses, &ing)); diff != "" {
				t.Errorf("cells (-want +got):\n%s", diff)
			}
		})
	}
}

func TestIngressClasses(t *testing.T) {
	meta := metav1.ObjectMeta{Name: "nginx", CreationTimestamp: ago(time.Hour)}
	plain := &networkingv1.IngressClass{ObjectMeta: meta, Spec: networkingv1.IngressClassSpec{Controller: "example.com/nginx"}}
	if diff := cmp.Diff([]any{"nginx", "example.com/nginx", "<none>", "60m"}, rowOf(t, testPrinter().IngressClasses, plain)); diff != "" {
		t.Errorf("without parameters: cells (-want +got):\n%s", diff)
	}
	withParams := plain.DeepCopy()
	withParams.Spec.Parameters = &networkingv1.IngressClassParametersReference{APIGroup: ptrTo("k8s.example.com"), Kind: "IngressParameters", Name: "lb"}
	if diff := cmp.Diff([]any{"nginx", "example.com/nginx", "IngressParameters.k8s.example.com/lb", "60m"},
		rowOf(t, testPrinter().IngressClasses, withParams)); diff != "" {
		t.Errorf("with parameters: cells (-want +got):\n%s", diff)
	}
}

func TestServiceCIDRsAndIPAddresses(t *testing.T) {
	c := &networkingv1.ServiceCIDR{ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", CreationTimestamp: ago(2 * time.Hour)},
		Spec: networkingv1.ServiceCIDRSpec{CIDRs: []string{"10.96.0.0/12", "fd00::/108"}}}
	if diff := cmp.Diff([]any{"kubernetes", "10.96.0.0/12,fd00::/108", "120m"}, rowOf(t, testPrinter().ServiceCIDRs, c)); diff != "" {
		t.Errorf("ServiceCIDR: cells (-want +got):\n%s", diff)
	}
	for _, tc := range []struct {
		name string
		ref  *networkingv1.ParentReference
		want string
	}{
		{name: "service", ref: &networkingv1.ParentReference{Resource: "services", Namespace: "default", Name: "web"}, want: "services/default/web"},
		{name: "cluster-scoped, grouped", ref: &networkingv1.ParentReference{Group: "Gateway.example.com", Resource: "gateways", Name: "gw"}, want: "gateways.gateway.example.com/gw"},
		{name: "none", want: "<none>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ip := &networkingv1.IPAddress{ObjectMeta: metav1.ObjectMeta{Name: "10.96.0.10", CreationTimestamp: ago(time.Minute)},
				Spec: networkingv1.IPAddressSpec{ParentRef: tc.ref}}
			if diff := cmp.Diff([]any{"10.96.0.10", tc.want, "60s"}, rowOf(t, testPrinter().IPAddresses, ip)); diff != "" {
				t.Errorf("cells (-want +got):\n%s", diff)
			}
		})
	}
}

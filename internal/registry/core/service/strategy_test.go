package service

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func TestDefault(t *testing.T) {
	cluster := corev1.ServiceInternalTrafficPolicyCluster
	timeout := int32(10800)
	vip := corev1.LoadBalancerIPModeVIP
	tests := []struct {
		name string
		in   corev1.Service
		want corev1.Service
	}{
		{
			name: "empty ClusterIP service",
			in:   corev1.Service{Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}}},
			want: corev1.Service{Spec: corev1.ServiceSpec{
				Type:                  corev1.ServiceTypeClusterIP,
				SessionAffinity:       corev1.ServiceAffinityNone,
				InternalTrafficPolicy: &cluster,
				Ports:                 []corev1.ServicePort{{Port: 80, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(80)}},
			}},
		},
		{
			name: "ClientIP affinity gets the 3h timeout",
			in:   corev1.Service{Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, SessionAffinity: corev1.ServiceAffinityClientIP}},
			want: corev1.Service{Spec: corev1.ServiceSpec{
				Type:                  corev1.ServiceTypeClusterIP,
				SessionAffinity:       corev1.ServiceAffinityClientIP,
				SessionAffinityConfig: &corev1.SessionAffinityConfig{ClientIP: &corev1.ClientIPConfig{TimeoutSeconds: &timeout}},
				InternalTrafficPolicy: &cluster,
			}},
		},
		{
			name: "None affinity drops the config",
			in: corev1.Service{Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP,
				SessionAffinityConfig: &corev1.SessionAffinityConfig{ClientIP: &corev1.ClientIPConfig{TimeoutSeconds: &timeout}}}},
			want: corev1.Service{Spec: corev1.ServiceSpec{
				Type: corev1.ServiceTypeClusterIP, SessionAffinity: corev1.ServiceAffinityNone, InternalTrafficPolicy: &cluster,
			}},
		},
		{
			name: "NodePort gets externalTrafficPolicy Cluster; UDP and named targetPort kept",
			in: corev1.Service{Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort,
				Ports: []corev1.ServicePort{{Port: 53, Protocol: corev1.ProtocolUDP, TargetPort: intstr.FromString("dns")}}}},
			want: corev1.Service{Spec: corev1.ServiceSpec{
				Type: corev1.ServiceTypeNodePort, SessionAffinity: corev1.ServiceAffinityNone, InternalTrafficPolicy: &cluster,
				ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicyCluster,
				Ports:                 []corev1.ServicePort{{Port: 53, Protocol: corev1.ProtocolUDP, TargetPort: intstr.FromString("dns")}},
			}},
		},
		{
			name: "ClusterIP with externalIPs is externally accessible",
			in:   corev1.Service{Spec: corev1.ServiceSpec{ExternalIPs: []string{"192.0.2.1"}}},
			want: corev1.Service{Spec: corev1.ServiceSpec{
				Type: corev1.ServiceTypeClusterIP, SessionAffinity: corev1.ServiceAffinityNone, InternalTrafficPolicy: &cluster,
				ExternalIPs: []string{"192.0.2.1"}, ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicyCluster,
			}},
		},
		{
			name: "LoadBalancer allocates node ports and ingress IPs get VIP mode",
			in: corev1.Service{Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer},
				Status: corev1.ServiceStatus{LoadBalancer: corev1.LoadBalancerStatus{Ingress: []corev1.LoadBalancerIngress{{IP: "192.0.2.7"}, {Hostname: "lb"}}}}},
			want: corev1.Service{Spec: corev1.ServiceSpec{
				Type: corev1.ServiceTypeLoadBalancer, SessionAffinity: corev1.ServiceAffinityNone, InternalTrafficPolicy: &cluster,
				ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicyCluster, AllocateLoadBalancerNodePorts: ptr(true),
			}, Status: corev1.ServiceStatus{LoadBalancer: corev1.LoadBalancerStatus{Ingress: []corev1.LoadBalancerIngress{{IP: "192.0.2.7", IPMode: &vip}, {Hostname: "lb"}}}}},
		},
		{
			name: "ExternalName gets no traffic policies",
			in:   corev1.Service{Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "example.com"}},
			want: corev1.Service{Spec: corev1.ServiceSpec{
				Type: corev1.ServiceTypeExternalName, ExternalName: "example.com", SessionAffinity: corev1.ServiceAffinityNone,
			}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.in.DeepCopy()
			Default(got)
			if diff := cmp.Diff(tc.want, *got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			Default(got)
			if diff := cmp.Diff(tc.want, *got); diff != "" {
				t.Errorf("not idempotent (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPrepareForCreate(t *testing.T) {
	s := svc("web", corev1.ServiceTypeClusterIP, func(s *corev1.Service) {
		s.Spec.ClusterIP = "10.96.0.5"
		s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "1.2.3.4"}}
	})
	Strategy{}.PrepareForCreate(context.Background(), s)
	if diff := cmp.Diff([]string{"10.96.0.5"}, s.Spec.ClusterIPs); diff != "" {
		t.Errorf("clusterIPs (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(corev1.ServiceStatus{}, s.Status); diff != "" {
		t.Errorf("status (-want +got):\n%s", diff)
	}
}

func TestPrepareForUpdate(t *testing.T) {
	status := corev1.ServiceStatus{LoadBalancer: corev1.LoadBalancerStatus{Ingress: []corev1.LoadBalancerIngress{{IP: "192.0.2.1"}}}}
	lb := prepared(svc("web", corev1.ServiceTypeLoadBalancer, func(s *corev1.Service) {
		s.Spec.ClusterIP = "10.96.0.5"
		s.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv4Protocol}
		s.Spec.IPFamilyPolicy = ptr(corev1.IPFamilyPolicySingleStack)
		s.Spec.Ports[0].NodePort = 30001
		s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
		s.Spec.HealthCheckNodePort = 30002
		s.Spec.LoadBalancerClass = ptr("example.com/lb")
	}))
	lb.Status = status
	lb.ResourceVersion = "4"
	tests := []struct {
		name  string
		mut   func(*corev1.Service)
		check func(t *testing.T, s *corev1.Service)
	}{
		{name: "status is kept from the stored object", mut: func(s *corev1.Service) { s.Status = corev1.ServiceStatus{} },
			check: func(t *testing.T, s *corev1.Service) {
				if diff := cmp.Diff(status, s.Status); diff != "" {
					t.Errorf("(-want +got):\n%s", diff)
				}
			}},
		{name: "PUT without allocated values keeps them", mut: func(s *corev1.Service) {
			s.Spec.ClusterIP, s.Spec.ClusterIPs, s.Spec.HealthCheckNodePort, s.Spec.Ports[0].NodePort = "", nil, 0, 0
		}, check: func(t *testing.T, s *corev1.Service) {
			if s.Spec.ClusterIP != "10.96.0.5" || s.Spec.Ports[0].NodePort != 30001 || s.Spec.HealthCheckNodePort != 30002 {
				t.Errorf("got clusterIP %q nodePort %d healthCheckNodePort %d", s.Spec.ClusterIP, s.Spec.Ports[0].NodePort, s.Spec.HealthCheckNodePort)
			}
		}},
		{name: "LoadBalancer to NodePort drops LB-only fields", mut: func(s *corev1.Service) { s.Spec.Type = corev1.ServiceTypeNodePort },
			check: func(t *testing.T, s *corev1.Service) {
				if s.Spec.HealthCheckNodePort != 0 || s.Spec.LoadBalancerClass != nil || s.Spec.AllocateLoadBalancerNodePorts != nil {
					t.Errorf("got %+v", s.Spec)
				}
				if s.Spec.Ports[0].NodePort != 30001 || s.Spec.ExternalTrafficPolicy != corev1.ServiceExternalTrafficPolicyLocal {
					t.Errorf("nodePort or externalTrafficPolicy dropped: %+v", s.Spec)
				}
				if len(s.Status.LoadBalancer.Ingress) != 0 {
					t.Errorf("load-balancer status kept: %+v", s.Status)
				}
			}},
		{name: "LoadBalancer to ClusterIP drops node ports", mut: func(s *corev1.Service) { s.Spec.Type = corev1.ServiceTypeClusterIP },
			check: func(t *testing.T, s *corev1.Service) {
				if s.Spec.Ports[0].NodePort != 0 || s.Spec.ExternalTrafficPolicy != "" || s.Spec.HealthCheckNodePort != 0 {
					t.Errorf("got %+v", s.Spec)
				}
				if s.Spec.ClusterIP != "10.96.0.5" {
					t.Errorf("clusterIP dropped")
				}
			}},
		{name: "a nodePort the client changed is not dropped", mut: func(s *corev1.Service) {
			s.Spec.Type = corev1.ServiceTypeClusterIP
			s.Spec.Ports[0].NodePort = 30009
		}, check: func(t *testing.T, s *corev1.Service) {
			if s.Spec.Ports[0].NodePort != 30009 {
				t.Errorf("got nodePort %d, want 30009 kept for validation to reject", s.Spec.Ports[0].NodePort)
			}
		}},
		{name: "to ExternalName drops IP fields", mut: func(s *corev1.Service) {
			s.Spec.Type = corev1.ServiceTypeExternalName
			s.Spec.ExternalName = "example.com"
		}, check: func(t *testing.T, s *corev1.Service) {
			if s.Spec.ClusterIP != "" || s.Spec.ClusterIPs != nil || s.Spec.IPFamilies != nil || s.Spec.IPFamilyPolicy != nil {
				t.Errorf("got %+v", s.Spec)
			}
			if errs := ValidateServiceUpdate(s, lb); len(errs) > 0 {
				t.Errorf("validation: %v", errs)
			}
		}},
		{name: "singular clusterIP changed by an old client", mut: func(s *corev1.Service) { s.Spec.ClusterIP = "10.96.0.9" },
			check: func(t *testing.T, s *corev1.Service) {
				if diff := cmp.Diff([]string{"10.96.0.9"}, s.Spec.ClusterIPs); diff != "" {
					t.Errorf("(-want +got):\n%s", diff)
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			obj := lb.DeepCopy()
			tc.mut(obj)
			Strategy{}.PrepareForUpdate(context.Background(), obj, lb)
			tc.check(t, obj)
		})
	}
}

func TestResourceAndFields(t *testing.T) {
	h := newHarness(t)
	res, err := Resource(Config{IPAllocators: h.ips, PortAllocator: h.ports})
	if err != nil {
		t.Fatal(err)
	}
	if res.Resource != "services" || res.Kind != "Service" || !res.Namespaced || res.StatusStrategy == nil || res.Hooks == nil {
		t.Errorf("got %+v", res)
	}
	if diff := cmp.Diff([]string{"svc"}, res.ShortNames); diff != "" {
		t.Errorf("shortNames (-want +got):\n%s", diff)
	}
	s := svc("web", corev1.ServiceTypeNodePort, func(s *corev1.Service) { s.Spec.ClusterIP = "10.96.0.5" })
	want := fields.Set{"metadata.name": "web", "metadata.namespace": "default", "spec.clusterIP": "10.96.0.5", "spec.type": "NodePort"}
	if diff := cmp.Diff(want, res.Fields(s)); diff != "" {
		t.Errorf("fields (-want +got):\n%s", diff)
	}
	if _, err := Resource(Config{PortAllocator: h.ports}); err == nil {
		t.Errorf("no IP allocator: got no error")
	}
}

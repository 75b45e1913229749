package service

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func errStrings(errs field.ErrorList) []string {
	var out []string
	for _, e := range errs {
		out = append(out, e.Error())
	}
	return out
}

// prepared returns svc after defaulting and PrepareForCreate, as
// validation sees it.
func prepared(s *corev1.Service) *corev1.Service {
	Default(s)
	Strategy{}.PrepareForCreate(context.Background(), s)
	return s
}

const dns1035Msg = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, " +
	"and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"

func TestValidateService(t *testing.T) {
	tests := []struct {
		name string
		svc  *corev1.Service
		want []string
	}{
		{name: "valid ClusterIP", svc: svc("web", corev1.ServiceTypeClusterIP)},
		{name: "valid NodePort", svc: svc("web", corev1.ServiceTypeNodePort, func(s *corev1.Service) { s.Spec.Ports[0].NodePort = 30001 })},
		{name: "valid headless without ports", svc: svc("web", corev1.ServiceTypeClusterIP, func(s *corev1.Service) {
			s.Spec.ClusterIP = "None"
			s.Spec.Ports = nil
		})},
		{name: "name is not a DNS-1035 label", svc: svc("1web", corev1.ServiceTypeClusterIP),
			want: []string{`metadata.name: Invalid value: "1web": ` + dns1035Msg}},
		{name: "no ports", svc: svc("web", corev1.ServiceTypeClusterIP, func(s *corev1.Service) { s.Spec.Ports = nil }),
			want: []string{"spec.ports: Required value"}},
		{name: "second port without name", svc: svc("web", corev1.ServiceTypeClusterIP, func(s *corev1.Service) {
			s.Spec.Ports[0].Name = "http"
			s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Port: 443})
		}), want: []string{"spec.ports[1].name: Required value"}},
		{name: "duplicate port name", svc: svc("web", corev1.ServiceTypeClusterIP, func(s *corev1.Service) {
			s.Spec.Ports[0].Name = "http"
			s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Name: "http", Port: 443})
		}), want: []string{`spec.ports[1].name: Duplicate value: "http"`}},
		{name: "duplicate port and protocol", svc: svc("web", corev1.ServiceTypeClusterIP, func(s *corev1.Service) {
			s.Spec.Ports[0].Name = "a"
			s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Name: "b", Port: 80})
		}), want: []string{`spec.ports[1]: Duplicate value: {"Name":"","Protocol":"TCP","AppProtocol":null,"Port":80,"TargetPort":0,"NodePort":0}`}},
		{name: "same port other protocol", svc: svc("web", corev1.ServiceTypeClusterIP, func(s *corev1.Service) {
			s.Spec.Ports[0].Name = "a"
			s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Name: "b", Port: 80, Protocol: corev1.ProtocolUDP})
		})},
		{name: "bad port name", svc: svc("web", corev1.ServiceTypeClusterIP, func(s *corev1.Service) { s.Spec.Ports[0].Name = "HTTP" }),
			want: []string{`spec.ports[0].name: Invalid value: "HTTP": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')`}},
		{name: "port zero", svc: svc("web", corev1.ServiceTypeClusterIP, func(s *corev1.Service) {
			s.Spec.Ports[0].Port = 0
			s.Spec.Ports[0].TargetPort = intstr.FromInt32(80)
		}), want: []string{"spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive"}},
		{name: "port too large", svc: svc("web", corev1.ServiceTypeClusterIP, func(s *corev1.Service) { s.Spec.Ports[0].Port = 65536 }),
			want: []string{"spec.ports[0].port: Invalid value: 65536: must be between 1 and 65535, inclusive"}},
		{name: "bad protocol", svc: svc("web", corev1.ServiceTypeClusterIP, func(s *corev1.Service) { s.Spec.Ports[0].Protocol = "ICMP" }),
			want: []string{`spec.ports[0].protocol: Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP"`}},
		{name: "targetPort too large", svc: svc("web", corev1.ServiceTypeClusterIP, func(s *corev1.Service) {
			s.Spec.Ports[0].TargetPort = intstr.FromInt32(70000)
		}), want: []string{"spec.ports[0].targetPort: Invalid value: 70000: must be between 1 and 65535, inclusive"}},
		{name: "named targetPort", svc: svc("web", corev1.ServiceTypeClusterIP, func(s *corev1.Service) {
			s.Spec.Ports[0].TargetPort = intstr.FromString("http")
		})},
		{name: "bad named targetPort", svc: svc("web", corev1.ServiceTypeClusterIP, func(s *corev1.Service) {
			s.Spec.Ports[0].TargetPort = intstr.FromString("-http")
		}), want: []string{`spec.ports[0].targetPort: Invalid value: "-http": must not begin or end with a hyphen`}},
		{name: "bad session affinity", svc: svc("web", corev1.ServiceTypeClusterIP, func(s *corev1.Service) { s.Spec.SessionAffinity = "Sticky" }),
			want: []string{`spec.sessionAffinity: Unsupported value: "Sticky": supported values: "ClientIP", "None"`}},
		{name: "timeout too large", svc: svc("web", corev1.ServiceTypeClusterIP, func(s *corev1.Service) {
			s.Spec.SessionAffinity = corev1.ServiceAffinityClientIP
			s.Spec.SessionAffinityConfig = &corev1.SessionAffinityConfig{ClientIP: &corev1.ClientIPConfig{TimeoutSeconds: ptr(int32(86401))}}
		}), want: []string{"spec.sessionAffinityConfig.clientIP.timeoutSeconds: Invalid value: 86401: must be greater than 0 and less than 86400"}},
		{name: "timeout zero", svc: svc("web", corev1.ServiceTypeClusterIP, func(s *corev1.Service) {
			s.Spec.SessionAffinity = corev1.ServiceAffinityClientIP
			s.Spec.SessionAffinityConfig = &corev1.SessionAffinityConfig{ClientIP: &corev1.ClientIPConfig{TimeoutSeconds: ptr(int32(0))}}
		}), want: []string{"spec.sessionAffinityConfig.clientIP.timeoutSeconds: Invalid value: 0: must be greater than 0 and less than 86400"}},
		{name: "timeout maximum", svc: svc("web", corev1.ServiceTypeClusterIP, func(s *corev1.Service) {
			s.Spec.SessionAffinity = corev1.ServiceAffinityClientIP
			s.Spec.SessionAffinityConfig = &corev1.SessionAffinityConfig{ClientIP: &corev1.ClientIPConfig{TimeoutSeconds: ptr(int32(86400))}}
		})},
		{name: "bad type", svc: svc("web", "Magic"),
			want: []string{`spec.type: Unsupported value: "Magic": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"`}},
		{name: "nodePort on ClusterIP", svc: svc("web", corev1.ServiceTypeClusterIP, func(s *corev1.Service) { s.Spec.Ports[0].NodePort = 30001 }),
			want: []string{"spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"}},
		{name: "duplicate nodePort", svc: svc("web", corev1.ServiceTypeNodePort, func(s *corev1.Service) {
			s.Spec.Ports[0].Name, s.Spec.Ports[0].NodePort = "a", 30001
			s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Name: "b", Port: 81, NodePort: 30001})
		}), want: []string{"spec.ports[1].nodePort: Duplicate value: 30001"}},
		{name: "invalid clusterIP", svc: svc("web", corev1.ServiceTypeClusterIP, func(s *corev1.Service) { s.Spec.ClusterIP = "10.96.0.300" }),
			want: []string{`spec.clusterIPs[0]: Invalid value: "10.96.0.300": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)`}},
		{name: "clusterIP and clusterIPs disagree", svc: svc("web", corev1.ServiceTypeClusterIP, func(s *corev1.Service) {
			s.Spec.ClusterIP, s.Spec.ClusterIPs = "10.96.0.5", []string{"10.96.0.6"}
		}), want: []string{`spec.clusterIPs: Invalid value: ["10.96.0.6"]: first value must match ` + "`clusterIP`"}},
		{name: "two IPv4 clusterIPs", svc: svc("web", corev1.ServiceTypeClusterIP, func(s *corev1.Service) {
			s.Spec.ClusterIP, s.Spec.ClusterIPs = "10.96.0.5", []string{"10.96.0.5", "10.96.0.6"}
		}), want: []string{`spec.clusterIPs: Invalid value: ["10.96.0.5","10.96.0.6"]: may specify no more than one IP for each IP family`}},
		{name: "family mismatch", svc: svc("web", corev1.ServiceTypeClusterIP, func(s *corev1.Service) {
			s.Spec.ClusterIP = "10.96.0.5"
			s.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv6Protocol}
		}), want: []string{"spec.clusterIPs[0]: Invalid value: \"10.96.0.5\": expected an IPv6 value as indicated by `ipFamilies[0]`"}},
		{name: "bad family and policy", svc: svc("web", corev1.ServiceTypeClusterIP, func(s *corev1.Service) {
			s.Spec.IPFamilies = []corev1.IPFamily{"IPv5"}
			s.Spec.IPFamilyPolicy = ptr(corev1.IPFamilyPolicy("Both"))
		}), want: []string{`spec.ipFamilies[0]: Unsupported value: "IPv5": supported values: "IPv4", "IPv6"`,
			`spec.ipFamilyPolicy: Unsupported value: "Both": supported values: "PreferDualStack", "RequireDualStack", "SingleStack"`}},
		{name: "None for NodePort", svc: svc("web", corev1.ServiceTypeNodePort, func(s *corev1.Service) { s.Spec.ClusterIP = "None" }),
			want: []string{`spec.clusterIPs[0]: Invalid value: "None": may not be set to 'None' for NodePort services`}},
		{name: "ExternalName without name", svc: svc("web", corev1.ServiceTypeExternalName),
			want: []string{"spec.externalName: Required value"}},
		{name: "ExternalName bad name", svc: svc("web", corev1.ServiceTypeExternalName, func(s *corev1.Service) { s.Spec.ExternalName = "Example_.com" }),
			want: []string{`spec.externalName: Invalid value: "Example_.com": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`}},
		{name: "ExternalName with trailing dot", svc: svc("web", corev1.ServiceTypeExternalName, func(s *corev1.Service) { s.Spec.ExternalName = "example.com." })},
		{name: "ExternalName with clusterIP", svc: svc("web", corev1.ServiceTypeExternalName, func(s *corev1.Service) {
			s.Spec.ExternalName = "example.com"
			s.Spec.ClusterIP = "10.96.0.5"
		}), want: []string{"spec.clusterIPs: Forbidden: may not be set for ExternalName services"}},
		{name: "loopback external IP", svc: svc("web", corev1.ServiceTypeClusterIP, func(s *corev1.Service) { s.Spec.ExternalIPs = []string{"127.0.0.1"} }),
			want: []string{`spec.externalIPs[0]: Invalid value: "127.0.0.1": may not be in the loopback range (127.0.0.0/8, ::1/128)`}},
		{name: "bad external IP", svc: svc("web", corev1.ServiceTypeClusterIP, func(s *corev1.Service) { s.Spec.ExternalIPs = []string{"nope"} }),
			want: []string{`spec.externalIPs[0]: Invalid value: "nope": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)`}},
		{name: "source ranges on ClusterIP", svc: svc("web", corev1.ServiceTypeClusterIP, func(s *corev1.Service) {
			s.Spec.LoadBalancerSourceRanges = []string{"10.0.0.0/8"}
		}), want: []string{"spec.LoadBalancerSourceRanges: Forbidden: may only be used when `type` is 'LoadBalancer'"}},
		{name: "bad source range", svc: svc("web", corev1.ServiceTypeLoadBalancer, func(s *corev1.Service) {
			s.Spec.LoadBalancerSourceRanges = []string{"10.0.0.0/33"}
		}), want: []string{`spec.LoadBalancerSourceRanges[0]: Invalid value: "10.0.0.0/33": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)`}},
		{name: "allocateLoadBalancerNodePorts on NodePort", svc: svc("web", corev1.ServiceTypeNodePort, func(s *corev1.Service) {
			s.Spec.AllocateLoadBalancerNodePorts = ptr(true)
		}), want: []string{"spec.allocateLoadBalancerNodePorts: Forbidden: may only be used when `type` is 'LoadBalancer'"}},
		{name: "loadBalancerClass on ClusterIP", svc: svc("web", corev1.ServiceTypeClusterIP, func(s *corev1.Service) {
			s.Spec.LoadBalancerClass = ptr("example.com/lb")
		}), want: []string{"spec.loadBalancerClass: Forbidden: may only be used when `type` is 'LoadBalancer'"}},
		{name: "externalTrafficPolicy on ClusterIP", svc: svc("web", corev1.ServiceTypeClusterIP, func(s *corev1.Service) {
			s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
		}), want: []string{`spec.externalTrafficPolicy: Invalid value: "Local": may only be set for externally-accessible services`}},
		{name: "bad externalTrafficPolicy", svc: svc("web", corev1.ServiceTypeNodePort, func(s *corev1.Service) {
			s.Spec.ExternalTrafficPolicy = "Global"
		}), want: []string{`spec.externalTrafficPolicy: Unsupported value: "Global": supported values: "Cluster", "Local"`}},
		{name: "healthCheckNodePort without Local", svc: svc("web", corev1.ServiceTypeLoadBalancer, func(s *corev1.Service) {
			s.Spec.HealthCheckNodePort = 30005
		}), want: []string{"spec.healthCheckNodePort: Invalid value: 30005: may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'"}},
		{name: "bad internalTrafficPolicy", svc: svc("web", corev1.ServiceTypeClusterIP, func(s *corev1.Service) {
			s.Spec.InternalTrafficPolicy = ptr(corev1.ServiceInternalTrafficPolicy("Node"))
		}), want: []string{`spec.internalTrafficPolicy: Unsupported value: "Node": supported values: "Cluster", "Local"`}},
		{name: "valid trafficDistribution PreferSameNode", svc: svc("web", corev1.ServiceTypeClusterIP, func(s *corev1.Service) {
			s.Spec.TrafficDistribution = ptr(corev1.ServiceTrafficDistributionPreferSameNode)
		})},
		{name: "valid trafficDistribution PreferSameZone", svc: svc("web", corev1.ServiceTypeClusterIP, func(s *corev1.Service) {
			s.Spec.TrafficDistribution = ptr(corev1.ServiceTrafficDistributionPreferSameZone)
		})},
		{name: "bad trafficDistribution", svc: svc("web", corev1.ServiceTypeClusterIP, func(s *corev1.Service) {
			s.Spec.TrafficDistribution = ptr("Nearest")
		}), want: []string{`spec.trafficDistribution: Unsupported value: "Nearest": supported values: "PreferClose", "PreferSameNode", "PreferSameZone"`}},
		{name: "bad selector", svc: svc("web", corev1.ServiceTypeClusterIP, func(s *corev1.Service) {
			s.Spec.Selector = map[string]string{"app": "-x"}
		}), want: []string{`spec.selector: Invalid value: "-x": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := errStrings(ValidateService(prepared(tc.svc)))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidateServiceUpdate(t *testing.T) {
	stored := func(mut ...func(*corev1.Service)) *corev1.Service {
		s := prepared(svc("web", corev1.ServiceTypeLoadBalancer, func(s *corev1.Service) {
			s.ResourceVersion = "7"
			s.Spec.ClusterIP = "10.96.0.5"
			s.Spec.Ports[0].NodePort = 30001
			s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
			s.Spec.HealthCheckNodePort = 30002
			s.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv4Protocol}
			s.Spec.IPFamilyPolicy = ptr(corev1.IPFamilyPolicySingleStack)
		}))
		for _, m := range mut {
			m(s)
		}
		return s
	}
	tests := []struct {
		name string
		mut  func(*corev1.Service)
		want []string
	}{
		{name: "no change", mut: func(*corev1.Service) {}},
		{name: "clusterIP changed", mut: func(s *corev1.Service) { s.Spec.ClusterIP, s.Spec.ClusterIPs = "10.96.0.6", []string{"10.96.0.6"} },
			want: []string{`spec.clusterIPs[0]: Invalid value: ["10.96.0.6"]: may not change once set`}},
		{name: "healthCheckNodePort changed", mut: func(s *corev1.Service) { s.Spec.HealthCheckNodePort = 30003 },
			want: []string{"spec.healthCheckNodePort: Forbidden: field is immutable"}},
		{name: "family changed", mut: func(s *corev1.Service) { s.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv6Protocol} },
			want: []string{`spec.ipFamilies[0]: Invalid value: ["IPv6"]: may not change once set`,
				"spec.clusterIPs[0]: Invalid value: \"10.96.0.5\": expected an IPv6 value as indicated by `ipFamilies[0]`"}},
		{name: "loadBalancerClass changed", mut: func(s *corev1.Service) { s.Spec.LoadBalancerClass = ptr("example.com/other") },
			want: []string{`spec.loadBalancerClass: Invalid value: "example.com/other": may not change once set`}},
		{name: "name changed", mut: func(s *corev1.Service) { s.Name = "other" },
			want: []string{`metadata.name: Invalid value: "other": field is immutable`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			old := stored()
			obj := stored(tc.mut)
			got := errStrings(ValidateServiceUpdate(obj, old))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestStatusStrategy(t *testing.T) {
	old := prepared(svc("web", corev1.ServiceTypeLoadBalancer, func(s *corev1.Service) { s.ResourceVersion = "3" }))
	tests := []struct {
		name    string
		typ     corev1.ServiceType
		ingress []corev1.LoadBalancerIngress
		want    []string
	}{
		{name: "IP gets the VIP mode", typ: corev1.ServiceTypeLoadBalancer, ingress: []corev1.LoadBalancerIngress{{IP: "192.0.2.10"}}},
		{name: "hostname", typ: corev1.ServiceTypeLoadBalancer, ingress: []corev1.LoadBalancerIngress{{Hostname: "lb.example.com"}}},
		{name: "bad IP", typ: corev1.ServiceTypeLoadBalancer, ingress: []corev1.LoadBalancerIngress{{IP: "300.1.1.1"}},
			want: []string{`status.loadBalancer.ingress[0].ip: Invalid value: "300.1.1.1": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)`}},
		{name: "IP as hostname", typ: corev1.ServiceTypeLoadBalancer, ingress: []corev1.LoadBalancerIngress{{Hostname: "192.0.2.1"}},
			want: []string{`status.loadBalancer.ingress[0].hostname: Invalid value: "192.0.2.1": must be a DNS name, not an IP address`}},
		{name: "not a LoadBalancer", typ: corev1.ServiceTypeClusterIP, ingress: []corev1.LoadBalancerIngress{{IP: "192.0.2.10"}},
			want: []string{"status.loadBalancer.ingress: Forbidden: may only be used when `spec.type` is 'LoadBalancer'"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := old.DeepCopy()
			o.Spec.Type = tc.typ
			obj := o.DeepCopy()
			obj.Spec.Ports = nil // a status write cannot change the spec
			obj.Status.LoadBalancer.Ingress = tc.ingress
			Default(obj)
			StatusStrategy{}.PrepareForUpdate(context.Background(), obj, o)
			if diff := cmp.Diff(o.Spec, obj.Spec); diff != "" {
				t.Errorf("spec changed (-old +new):\n%s", diff)
			}
			got := errStrings(StatusStrategy{}.ValidateUpdate(context.Background(), obj, o))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidationMessagesMentionPaths(t *testing.T) {
	// A service with many mistakes reports each with its own path.
	s := prepared(svc("web", corev1.ServiceTypeClusterIP, func(s *corev1.Service) {
		s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Port: 0, Protocol: "X"})
	}))
	got := strings.Join(errStrings(ValidateService(s)), "\n")
	for _, want := range []string{"spec.ports[0].name: Required value", "spec.ports[1].name: Required value",
		"spec.ports[1].port: Invalid value: 0", `spec.ports[1].protocol: Unsupported value: "X"`} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in\n%s", want, got)
		}
	}
}

package proxy

import (
	"net/netip"
	"sort"
	"strings"

	v1 "k8s.io/api/core/v1"
	discovery "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/types"
)

// ServiceOptions are the node-level settings that shape the model.
type ServiceOptions struct {
	// RefuseExternalIPs drops spec.externalIPs (CVE-2020-8554 mitigation).
	RefuseExternalIPs bool
}

// BuildService turns a Service and its EndpointSlices into the model. It
// returns nil for Services the proxy ignores (ExternalName, headless, or
// without an IPv4 cluster IP).
func BuildService(svc *v1.Service, slices []*discovery.EndpointSlice, nodeName string, opts ServiceOptions) *Service {
	if svc == nil || svc.Spec.Type == v1.ServiceTypeExternalName {
		return nil
	}
	clusterIP := firstIPv4(svc.Spec.ClusterIPs)
	if clusterIP == "" {
		clusterIP = firstIPv4([]string{svc.Spec.ClusterIP})
	}
	if clusterIP == "" {
		return nil
	}
	name := types.NamespacedName{Namespace: svc.Namespace, Name: svc.Name}
	var externalIPs, lbIPs []string
	if !opts.RefuseExternalIPs {
		externalIPs = ipv4Only(svc.Spec.ExternalIPs)
	}
	for _, ing := range svc.Status.LoadBalancer.Ingress {
		if ing.IP != "" && isIPv4(ing.IP) {
			lbIPs = append(lbIPs, ing.IP)
		}
	}
	var affinity int32
	if svc.Spec.SessionAffinity == v1.ServiceAffinityClientIP {
		affinity = v1.DefaultClientIPServiceAffinitySeconds
		if c := svc.Spec.SessionAffinityConfig; c != nil && c.ClientIP != nil && c.ClientIP.TimeoutSeconds != nil {
			affinity = *c.ClientIP.TimeoutSeconds
		}
	}
	var sourceRanges []string
	if len(lbIPs) > 0 {
		sourceRanges = ipv4Prefixes(svc.Spec.LoadBalancerSourceRanges)
	}
	var distribution string
	if svc.Spec.TrafficDistribution != nil {
		distribution = *svc.Spec.TrafficDistribution
	}
	out := &Service{Endpoints: map[ServicePortName][]Endpoint{}}
	for _, p := range svc.Spec.Ports {
		sp := &ServicePort{
			Name:                   ServicePortName{NamespacedName: name, Port: p.Name, Protocol: p.Protocol},
			ClusterIP:              clusterIP,
			Port:                   p.Port,
			Protocol:               p.Protocol,
			AffinityTimeoutSeconds: affinity,
			InternalPolicyLocal:    svc.Spec.InternalTrafficPolicy != nil && *svc.Spec.InternalTrafficPolicy == v1.ServiceInternalTrafficPolicyLocal,
			TrafficDistribution:    distribution,
			HealthCheckNodePort:    svc.Spec.HealthCheckNodePort,
		}
		if sp.Protocol == "" {
			sp.Protocol = v1.ProtocolTCP
			sp.Name.Protocol = v1.ProtocolTCP
		}
		if svc.Spec.Type == v1.ServiceTypeNodePort || svc.Spec.Type == v1.ServiceTypeLoadBalancer {
			sp.NodePort = p.NodePort
		}
		sp.ExternalIPs = externalIPs
		if svc.Spec.Type == v1.ServiceTypeLoadBalancer {
			sp.LoadBalancerIPs = lbIPs
			sp.LoadBalancerSourceRanges = sourceRanges
		}
		sp.ExternalPolicyLocal = sp.ExternallyAccessible() && svc.Spec.ExternalTrafficPolicy == v1.ServiceExternalTrafficPolicyLocal
		out.Ports = append(out.Ports, sp)
		out.Endpoints[sp.Name] = buildEndpoints(sp, slices, nodeName)
	}
	return out
}

// buildEndpoints collects the endpoints of one Service port over all of the
// Service's IPv4 slices, de-duplicated by ip:port (a ready copy wins) and
// sorted by ip:port for deterministic output.
func buildEndpoints(sp *ServicePort, slices []*discovery.EndpointSlice, nodeName string) []Endpoint {
	byKey := map[string]Endpoint{}
	for _, slice := range slices {
		if slice.AddressType != discovery.AddressTypeIPv4 {
			continue
		}
		for _, port := range slice.Ports {
			pname := ""
			if port.Name != nil {
				pname = *port.Name
			}
			proto := v1.ProtocolTCP
			if port.Protocol != nil {
				proto = *port.Protocol
			}
			if pname != sp.Name.Port || proto != sp.Protocol || port.Port == nil {
				continue
			}
			for _, ep := range slice.Endpoints {
				if len(ep.Addresses) == 0 || !isIPv4(ep.Addresses[0]) {
					continue
				}
				e := Endpoint{IP: ep.Addresses[0], Port: *port.Port}
				e.Ready = ep.Conditions.Ready == nil || *ep.Conditions.Ready
				e.Serving = e.Ready
				if ep.Conditions.Serving != nil {
					e.Serving = *ep.Conditions.Serving
				}
				e.Terminating = ep.Conditions.Terminating != nil && *ep.Conditions.Terminating
				if ep.NodeName != nil {
					e.NodeName = *ep.NodeName
				}
				if ep.Zone != nil {
					e.Zone = *ep.Zone
				}
				if ep.Hints != nil {
					for _, z := range ep.Hints.ForZones {
						e.ZoneHints = append(e.ZoneHints, z.Name)
					}
					for _, n := range ep.Hints.ForNodes {
						e.NodeHints = append(e.NodeHints, n.Name)
					}
				}
				e.IsLocal = nodeName != "" && e.NodeName == nodeName
				key := e.String()
				if old, ok := byKey[key]; ok && old.Ready && !e.Ready {
					continue
				}
				byKey[key] = e
			}
		}
	}
	out := make([]Endpoint, 0, len(byKey))
	for _, e := range byKey {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return lessEndpoint(out[i], out[j]) })
	return out
}

func lessEndpoint(a, b Endpoint) bool {
	aa, _ := netip.ParseAddr(a.IP)
	ba, _ := netip.ParseAddr(b.IP)
	if c := aa.Compare(ba); c != 0 {
		return c < 0
	}
	return a.Port < b.Port
}

func isIPv4(s string) bool {
	a, err := netip.ParseAddr(s)
	return err == nil && a.Is4()
}

func firstIPv4(ips []string) string {
	for _, ip := range ips {
		if isIPv4(ip) {
			return ip
		}
	}
	return ""
}

func ipv4Only(ips []string) []string {
	var out []string
	for _, ip := range ips {
		if isIPv4(ip) {
			out = append(out, ip)
		}
	}
	return out
}

// ipv4Prefixes parses CIDRs (spaces trimmed, as upstream accepts them),
// keeps the IPv4 ones and returns them masked, sorted and de-duplicated.
func ipv4Prefixes(cidrs []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, c := range cidrs {
		p, err := netip.ParsePrefix(strings.TrimSpace(c))
		if err != nil || !p.Addr().Is4() {
			continue
		}
		s := p.Masked().String()
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

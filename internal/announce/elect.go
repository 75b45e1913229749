package announce

import (
	"crypto/sha256"
	"net/netip"
	"sort"

	v1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// Owner returns the node that announces ip among the Ready nodes (""
// when there is none): the one with the lowest sha256(node + "#" + ip),
// so every node computes the same owner and IPs spread over nodes.
func Owner(ip netip.Addr, nodes []*v1.Node) string {
	var ready []string
	for _, n := range nodes {
		if nodeReady(n) && n.DeletionTimestamp == nil {
			ready = append(ready, n.Name)
		}
	}
	if len(ready) == 0 {
		return ""
	}
	key := func(name string) string {
		sum := sha256.Sum256([]byte(name + "#" + ip.String()))
		return string(sum[:])
	}
	sort.Slice(ready, func(i, j int) bool { return key(ready[i]) < key(ready[j]) })
	return ready[0]
}

func nodeReady(n *v1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == v1.NodeReady {
			return c.Status == v1.ConditionTrue
		}
	}
	return false
}

// EndpointNodes returns the names of the nodes that hold a ready endpoint
// of the Service namespace/name.
type EndpointNodes func(namespace, name string) map[string]bool

// ReadyEndpointNodes returns the nodes of the ready endpoints in slices
// (the EndpointSlices of one Service). An endpoint without the ready
// condition counts as ready, as the EndpointSlice API asks consumers to
// read it; one without nodeName belongs to no node.
func ReadyEndpointNodes(slices []*discoveryv1.EndpointSlice) map[string]bool {
	out := map[string]bool{}
	for _, s := range slices {
		for _, ep := range s.Endpoints {
			if ep.NodeName == nil || *ep.NodeName == "" {
				continue
			}
			if ep.Conditions.Ready == nil || *ep.Conditions.Ready {
				out[*ep.NodeName] = true
			}
		}
	}
	return out
}

// candidates returns the nodes that may announce svc's ingress IPs: every
// node not labelled node.kubernetes.io/exclude-from-external-load-balancers,
// and for externalTrafficPolicy Local only those with a ready endpoint of
// svc (MetalLB's layer-2 rules: the proxy of any other node drops the
// Service's external traffic, so announcing there would black-hole it). No
// node is a candidate for a Local Service without ready endpoints.
func candidates(svc *v1.Service, nodes []*v1.Node, endpointNodes EndpointNodes) []*v1.Node {
	local := svc.Spec.ExternalTrafficPolicy == v1.ServiceExternalTrafficPolicyLocal
	var withEndpoints map[string]bool
	if local && endpointNodes != nil {
		withEndpoints = endpointNodes(svc.Namespace, svc.Name)
	}
	var out []*v1.Node
	for _, n := range nodes {
		if _, excluded := n.Labels[v1.LabelNodeExcludeBalancers]; excluded {
			continue
		}
		if local && !withEndpoints[n.Name] {
			continue
		}
		out = append(out, n)
	}
	return out
}

// OwnedIPs returns the IPv4 LoadBalancer ingress IPs that node announces:
// those allowed (nil: all) whose Owner among the Service's candidates is
// node.
func OwnedIPs(node string, services []*v1.Service, nodes []*v1.Node, endpointNodes EndpointNodes, allowed func(netip.Addr) bool) map[netip.Addr]bool {
	out := map[netip.Addr]bool{}
	for _, svc := range services {
		if svc.Spec.Type != v1.ServiceTypeLoadBalancer {
			continue
		}
		var cands []*v1.Node
		computed := false
		for _, ing := range svc.Status.LoadBalancer.Ingress {
			ip, err := netip.ParseAddr(ing.IP)
			if err != nil || !ip.Is4() || (allowed != nil && !allowed(ip)) {
				continue
			}
			if !computed {
				cands, computed = candidates(svc, nodes, endpointNodes), true
			}
			if Owner(ip, cands) == node {
				out[ip] = true
			}
		}
	}
	return out
}

package proxy

import (
	"slices"

	v1 "k8s.io/api/core/v1"
)

// Selection is the result of CategorizeEndpoints.
type Selection struct {
	// Cluster are the endpoints for traffic with policy Cluster (nil when
	// the port does not use cluster endpoints).
	Cluster []Endpoint
	// Local are this node's endpoints for traffic with policy Local (nil
	// when the port does not use local endpoints).
	Local []Endpoint
	// AllReachable is the union of Cluster and Local.
	AllReachable []Endpoint
	// HasAny is true when some traffic to the port has an endpoint.
	HasAny bool
}

// Internal returns the endpoints for traffic from inside the cluster
// (to the cluster IP).
func (s Selection) Internal(sp *ServicePort) []Endpoint {
	if sp.InternalPolicyLocal {
		return s.Local
	}
	return s.Cluster
}

// External returns the endpoints for traffic to NodePorts, externalIPs and
// load-balancer IPs.
func (s Selection) External(sp *ServicePort) []Endpoint {
	if sp.ExternalPolicyLocal {
		return s.Local
	}
	return s.Cluster
}

// CategorizeEndpoints applies the selection rules every backend shares:
// ready endpoints, else serving-and-terminating ones; topology hints for
// cluster traffic when trafficDistribution asks for them and the hints are
// usable; only this node's endpoints for Local policies.
func CategorizeEndpoints(eps []Endpoint, sp *ServicePort, node NodeInfo) Selection {
	var sel Selection
	if sp.UsesClusterEndpoints() {
		topo := topologyFilter(eps, sp, node)
		sel.Cluster = filter(eps, func(e Endpoint) bool { return e.Ready && topo(e) })
		if len(sel.Cluster) == 0 {
			sel.Cluster = filter(eps, func(e Endpoint) bool { return e.Serving && e.Terminating })
		}
		sel.HasAny = len(sel.Cluster) > 0
	}
	if !sp.UsesLocalEndpoints() {
		sel.AllReachable = sel.Cluster
		return sel
	}
	sel.Local = filter(eps, func(e Endpoint) bool { return e.IsLocal && e.Ready })
	if len(sel.Local) == 0 {
		sel.Local = filter(eps, func(e Endpoint) bool { return e.IsLocal && e.Serving && e.Terminating })
	}
	// With a Local policy, "has endpoints" means anywhere in the cluster:
	// then traffic without a local endpoint is dropped, not rejected.
	for _, e := range eps {
		if e.Ready || (e.Serving && e.Terminating) {
			sel.HasAny = true
		}
	}
	if len(sel.Cluster) == 0 {
		sel.AllReachable = sel.Local
		return sel
	}
	sel.AllReachable = slices.Clone(sel.Cluster)
	for _, e := range sel.Local {
		if !slices.ContainsFunc(sel.AllReachable, func(o Endpoint) bool { return o.String() == e.String() }) {
			sel.AllReachable = append(sel.AllReachable, e)
		}
	}
	return sel
}

// topologyFilter returns the predicate that keeps endpoints hinted for this
// node (PreferSameNode) or its zone (PreferSameZone / PreferClose). Hints are
// ignored unless every ready endpoint carries one and at least one matches;
// in that case the predicate accepts everything.
func topologyFilter(eps []Endpoint, sp *ServicePort, node NodeInfo) func(Endpoint) bool {
	all := func(Endpoint) bool { return true }
	switch sp.TrafficDistribution {
	case v1.ServiceTrafficDistributionPreferClose, v1.ServiceTrafficDistributionPreferSameZone,
		v1.ServiceTrafficDistributionPreferSameNode:
	default:
		return all
	}
	if sp.InternalPolicyLocal {
		return all
	}
	if sp.TrafficDistribution == v1.ServiceTrafficDistributionPreferSameNode && node.Name != "" {
		forNode := func(e Endpoint) bool { return slices.Contains(e.NodeHints, node.Name) }
		if slices.ContainsFunc(eps, func(e Endpoint) bool { return e.Ready && forNode(e) }) {
			return forNode
		}
	}
	if node.Zone == "" {
		return all
	}
	matched := false
	for _, e := range eps {
		if !e.Ready {
			continue
		}
		if len(e.ZoneHints) == 0 {
			return all
		}
		if slices.Contains(e.ZoneHints, node.Zone) {
			matched = true
		}
	}
	if !matched {
		return all
	}
	return func(e Endpoint) bool { return slices.Contains(e.ZoneHints, node.Zone) }
}

func filter(eps []Endpoint, keep func(Endpoint) bool) []Endpoint {
	var out []Endpoint
	for _, e := range eps {
		if keep(e) {
			out = append(out, e)
		}
	}
	return out
}

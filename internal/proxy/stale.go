package proxy

import (
	"context"
	"slices"
	"sort"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// StaleFlow selects UDP conntrack entries that would keep sending a client's
// datagrams to an endpoint that is gone. UDP has no connection teardown, so
// without deletion such entries live on as long as the client keeps talking.
type StaleFlow struct {
	// OrigDst is the original destination IP (a cluster, external or
	// load-balancer IP); "" for NodePort flows, which match any local IP.
	OrigDst string
	// Port is the original destination port: the Service port, or the node
	// port when OrigDst is "".
	Port int32
	// Endpoint is the DNAT target IP of the entries to delete; "" deletes
	// every entry to OrigDst:Port (used when a Service gains its first
	// endpoint, to drop entries created while it had none).
	Endpoint string
}

// Conntrack deletes stale conntrack entries. It is called after a
// successful sync, with the flows that sync made stale.
type Conntrack interface {
	DeleteUDP(ctx context.Context, flows []StaleFlow) error
}

// StaleUDPFlows compares the endpoints that old and next route UDP traffic
// to, for the Services next names as changed, and returns the conntrack
// entries to delete: for each UDP endpoint no longer reachable, the flows
// from each Service IP and the node port to it; for each UDP port that had
// no endpoint and now has one, every flow to its Service IPs and node port.
// It returns nil when old is nil (nothing was programmed before).
func StaleUDPFlows(old, next *State) []StaleFlow {
	if old == nil || next == nil {
		return nil
	}
	var out []StaleFlow
	names := make([]types.NamespacedName, 0, len(next.Changed))
	for n := range next.Changed {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool { return names[i].String() < names[j].String() })
	for _, name := range names {
		oldSvc, newSvc := old.Services[name], next.Services[name]
		if oldSvc == nil {
			continue
		}
		for _, op := range oldSvc.Ports {
			if op.Protocol != v1.ProtocolUDP {
				continue
			}
			oldEps := CategorizeEndpoints(oldSvc.Endpoints[op.Name], op, old.Node).AllReachable
			var np *ServicePort
			var newEps []Endpoint
			if newSvc != nil {
				for _, p := range newSvc.Ports {
					if p.Name == op.Name {
						np = p
						newEps = CategorizeEndpoints(newSvc.Endpoints[p.Name], p, next.Node).AllReachable
					}
				}
			}
			for _, ep := range oldEps {
				if slices.ContainsFunc(newEps, func(e Endpoint) bool { return e.String() == ep.String() }) {
					continue
				}
				out = append(out, flowsTo(op, ep.IP)...)
			}
			if len(oldEps) == 0 && len(newEps) > 0 {
				out = append(out, flowsTo(np, "")...)
			}
		}
	}
	return dedupFlows(out)
}

// flowsTo lists the flows of every destination of sp towards endpoint ip.
func flowsTo(sp *ServicePort, ip string) []StaleFlow {
	var out []StaleFlow
	dsts := append([]string{sp.ClusterIP}, sp.ExternalIPs...)
	dsts = append(dsts, sp.LoadBalancerIPs...)
	for _, d := range dsts {
		if d != "" {
			out = append(out, StaleFlow{OrigDst: d, Port: sp.Port, Endpoint: ip})
		}
	}
	if sp.NodePort != 0 {
		out = append(out, StaleFlow{Port: sp.NodePort, Endpoint: ip})
	}
	return out
}

func dedupFlows(in []StaleFlow) []StaleFlow {
	seen := map[StaleFlow]bool{}
	var out []StaleFlow
	for _, f := range in {
		if !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	return out
}

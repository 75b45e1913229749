package userspace

import (
	"net"
	"sort"
	"strconv"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/svcnet/svcnet/internal/proxy"
)

// listenKey identifies one listening socket.
type listenKey struct {
	Protocol v1.Protocol
	IP       string // "" is every address
	Port     int32
}

func (k listenKey) String() string {
	return string(k.Protocol) + "/" + net.JoinHostPort(k.IP, strconv.Itoa(int(k.Port)))
}

// plannedListener is what one socket should forward to.
type plannedListener struct {
	Service types.NamespacedName
	Port    proxy.ServicePortName
	// Endpoints are "ip:port" in selection order; a listener is planned only
	// when there is at least one.
	Endpoints []string
	// AffinitySeconds is the ClientIP affinity timeout (0: none).
	AffinitySeconds int32
}

// planService returns the listeners one Service needs. Cluster IP sockets
// carry internal traffic and NodePort sockets external traffic, each with
// its own endpoint selection. nodeIPs are the NodePort addresses ([""]
// for the wildcard); withClusterIPs is false when cluster IPs cannot be
// bound.
func planService(name types.NamespacedName, svc *proxy.Service, node proxy.NodeInfo, nodeIPs []string, withClusterIPs bool) map[listenKey]plannedListener {
	out := map[listenKey]plannedListener{}
	if svc == nil {
		return out
	}
	for _, sp := range svc.Ports {
		if sp.Protocol != v1.ProtocolTCP && sp.Protocol != v1.ProtocolUDP {
			continue // SCTP is not forwarded
		}
		sel := proxy.CategorizeEndpoints(svc.Endpoints[sp.Name], sp, node)
		mk := func(eps []proxy.Endpoint) plannedListener {
			pl := plannedListener{Service: name, Port: sp.Name, AffinitySeconds: sp.AffinityTimeoutSeconds}
			for _, e := range eps {
				pl.Endpoints = append(pl.Endpoints, e.String())
			}
			return pl
		}
		if in := sel.Internal(sp); withClusterIPs && len(in) > 0 {
			out[listenKey{sp.Protocol, sp.ClusterIP, sp.Port}] = mk(in)
		}
		if ext := sel.External(sp); sp.NodePort != 0 && len(ext) > 0 {
			for _, ip := range nodeIPs {
				out[listenKey{sp.Protocol, ip, sp.NodePort}] = mk(ext)
			}
		}
	}
	return out
}

func sortedListenKeys[V any](m map[listenKey]V) []listenKey {
	keys := make([]listenKey, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
	return keys
}

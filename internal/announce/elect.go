package announce

import (
	"crypto/sha256"
	"net/netip"
	"sort"

	v1 "k8s.io/api/core/v1"
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

// OwnedIPs returns the IPv4 LoadBalancer ingress IPs that node announces.
func OwnedIPs(node string, services []*v1.Service, nodes []*v1.Node) map[netip.Addr]bool {
	out := map[netip.Addr]bool{}
	for _, svc := range services {
		if svc.Spec.Type != v1.ServiceTypeLoadBalancer {
			continue
		}
		for _, ing := range svc.Status.LoadBalancer.Ingress {
			ip, err := netip.ParseAddr(ing.IP)
			if err != nil || !ip.Is4() {
				continue
			}
			if Owner(ip, nodes) == node {
				out[ip] = true
			}
		}
	}
	return out
}

package nftables

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/svcnet/svcnet/internal/proxy"
)

// elemKey identifies one set or map element: the container name and the
// key joined with " . ".
type elemKey struct {
	container string
	isMap     bool
	key       string
}

type elemVal struct {
	key     []string
	value   []string
	comment string
}

// svcObjects are the chains, affinity sets and map/set elements one Service
// owns. Chains map to their rule lines; sets map to their timeout (seconds).
type svcObjects struct {
	chains map[string][]string
	sets   map[string]int32
	elems  map[elemKey]elemVal
}

func newSvcObjects() *svcObjects {
	return &svcObjects{chains: map[string][]string{}, sets: map[string]int32{}, elems: map[elemKey]elemVal{}}
}

func (o *svcObjects) addElem(container string, isMap bool, key, value []string, comment string) {
	o.elems[elemKey{container: container, isMap: isMap, key: strings.Join(key, " . ")}] = elemVal{key: key, value: value, comment: comment}
}

func protoName(p proxy.ServicePort) string { return strings.ToLower(string(p.Protocol)) }

// buildService computes the objects of one Service (nil for a deleted or
// ignored one).
func (p *Proxier) buildService(svc *proxy.Service, node proxy.NodeInfo) *svcObjects {
	if svc == nil {
		return nil
	}
	o := newSvcObjects()
	for _, sp := range svc.Ports {
		p.buildServicePort(o, sp, svc.Endpoints[sp.Name], node)
	}
	return o
}

func (p *Proxier) buildServicePort(o *svcObjects, sp *proxy.ServicePort, eps []proxy.Endpoint, node proxy.NodeInfo) {
	sel := proxy.CategorizeEndpoints(eps, sp, node)
	internal, external := sel.Internal(sp), sel.External(sp)
	proto := protoName(*sp)
	port := strconv.Itoa(int(sp.Port))
	comment := sp.Name.String()
	svcChain, extChain := serviceChainName(sp.Name), externalChainName(sp.Name)

	// Endpoint chains (and affinity sets) for every endpoint some traffic uses.
	epChains := map[string]string{}
	affinitySets := map[string]string{}
	for _, ep := range sel.AllReachable {
		chain := endpointChainName(sp.Name, ep)
		epChains[ep.String()] = chain
		rules := []string{fmt.Sprintf("ip saddr %s jump %s", ep.IP, markMasqChain)}
		if sp.AffinityTimeoutSeconds > 0 {
			set := affinitySetName(sp.Name, ep, sp.AffinityTimeoutSeconds)
			affinitySets[ep.String()] = set
			o.sets[set] = sp.AffinityTimeoutSeconds
			rules = append(rules, fmt.Sprintf("update @%s { ip saddr }", set))
		}
		rules = append(rules, fmt.Sprintf("meta l4proto %s dnat ip to %s", proto, ep.String()))
		o.chains[chain] = rules
	}
	lb := func(eps []proxy.Endpoint) []string {
		var rules []string
		if sp.AffinityTimeoutSeconds > 0 {
			for _, ep := range eps {
				rules = append(rules, fmt.Sprintf("ip saddr @%s goto %s", affinitySets[ep.String()], epChains[ep.String()]))
			}
		}
		if len(eps) == 1 {
			return append(rules, "goto "+epChains[eps[0].String()])
		}
		var arms []string
		for i, ep := range eps {
			arms = append(arms, fmt.Sprintf("%d : goto %s", i, epChains[ep.String()]))
		}
		return append(rules, fmt.Sprintf("numgen random mod %d vmap { %s }", len(eps), strings.Join(arms, " , ")))
	}

	// Internal (ClusterIP) traffic.
	if sp.ClusterIP != "" {
		o.addElem(clusterIPsSet, false, []string{sp.ClusterIP}, nil, comment)
		key := []string{sp.ClusterIP, proto, port}
		if len(internal) > 0 {
			var rules []string
			switch {
			case p.cfg.MasqueradeAll:
				rules = append(rules, "jump "+markMasqChain)
			case p.cfg.ClusterCIDR != "":
				rules = append(rules, fmt.Sprintf("ip saddr != %s jump %s", p.cfg.ClusterCIDR, markMasqChain))
			}
			o.chains[svcChain] = append(rules, lb(internal)...)
			o.addElem(serviceIPsMap, true, key, []string{"goto " + svcChain}, comment)
		} else {
			o.addElem(noEndpointServicesMap, true, key, []string{noEndpointVerdict(sel)}, comment)
		}
	}

	if !sp.ExternallyAccessible() {
		return
	}
	if len(external) > 0 {
		var rules []string
		if sp.ExternalPolicyLocal {
			_, hasSvcChain := o.chains[svcChain]
			if p.cfg.ClusterCIDR != "" && hasSvcChain {
				rules = append(rules, fmt.Sprintf("ip saddr %s goto %s", p.cfg.ClusterCIDR, svcChain))
			}
			rules = append(rules, "fib saddr type local jump "+markMasqChain)
			if hasSvcChain {
				rules = append(rules, "fib saddr type local goto "+svcChain)
			}
		} else if p.cfg.ClusterCIDR != "" && !p.cfg.MasqueradeAll {
			rules = append(rules, fmt.Sprintf("ip saddr != %s jump %s", p.cfg.ClusterCIDR, markMasqChain))
		} else {
			rules = append(rules, "jump "+markMasqChain)
		}
		o.chains[extChain] = append(rules, lb(external)...)
	}
	extVerdict := []string{"goto " + extChain}
	if len(external) == 0 {
		extVerdict = []string{noEndpointVerdict(sel)}
	}
	if len(sp.LoadBalancerSourceRanges) > 0 && len(sp.LoadBalancerIPs) > 0 {
		// Traffic to the load-balancer IPs from outside the allowed ranges
		// is dropped before DNAT, whatever its endpoints.
		fwChain := firewallChainName(sp.Name)
		o.chains[fwChain] = []string{
			fmt.Sprintf("ip saddr != { %s } drop", strings.Join(sp.LoadBalancerSourceRanges, ", ")),
		}
		for _, ip := range sp.LoadBalancerIPs {
			o.addElem(firewallIPsMap, true, []string{ip, proto, port}, []string{"goto " + fwChain}, comment)
		}
	}
	extIPs := append(append([]string(nil), sp.ExternalIPs...), sp.LoadBalancerIPs...)
	sort.Strings(extIPs)
	for _, ip := range extIPs {
		m := serviceIPsMap
		if len(external) == 0 {
			m = noEndpointServicesMap
		}
		o.addElem(m, true, []string{ip, proto, port}, extVerdict, comment)
	}
	if sp.NodePort != 0 {
		m := serviceNodePortsMap
		if len(external) == 0 {
			m = noEndpointNodePortsMap
		}
		o.addElem(m, true, []string{proto, strconv.Itoa(int(sp.NodePort))}, extVerdict, comment)
	}
}

// noEndpointVerdict rejects traffic to a port without any endpoint and
// drops traffic that has endpoints elsewhere but none usable here (Local).
func noEndpointVerdict(sel proxy.Selection) string {
	if sel.HasAny {
		return "drop"
	}
	return "goto " + rejectChain
}

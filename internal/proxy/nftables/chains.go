package nftables

import (
	"cmp"
	"fmt"
	"slices"
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
// endpointIPs are the IPs its chains may DNAT to: the hairpin-endpoints set
// holds them for every Service at once (see Proxier.hairpinRefs). blocks
// are the dnat-targets keys each chain spreads over, by chain name.
type svcObjects struct {
	chains      map[string][]string
	sets        map[string]int32
	elems       map[elemKey]elemVal
	endpointIPs map[string]bool
	blocks      map[string]dnatBlock
}

// dnatBlock is a chain's block of dnat-targets keys and the "ip . port"
// targets written under them, in order.
type dnatBlock struct {
	slots   slotBlock
	targets []string
}

func newSvcObjects() *svcObjects {
	return &svcObjects{chains: map[string][]string{}, sets: map[string]int32{}, elems: map[elemKey]elemVal{},
		endpointIPs: map[string]bool{}, blocks: map[string]dnatBlock{}}
}

// builder computes the objects of the Services of one sync.
type builder struct {
	p    *Proxier
	node proxy.NodeInfo
	// gen is the dnat-targets generation the chains use; used collects the
	// maps of it they refer to, with the protocol of each.
	gen  *dnatGen
	used map[string]string
	// err is the first allocation failure; the sync stops on it.
	err error
}

func (o *svcObjects) addElem(container string, isMap bool, key, value []string, comment string) {
	o.elems[elemKey{container: container, isMap: isMap, key: strings.Join(key, " . ")}] = elemVal{key: key, value: value, comment: comment}
}

func protoName(p proxy.ServicePort) string { return strings.ToLower(string(p.Protocol)) }

// buildService computes the objects of one Service (nil for a deleted or
// ignored one). old, the Service's committed objects in the same
// dnat-targets generation (nil on a full sync), lends its key blocks to
// chains whose targets did not change.
func (b *builder) buildService(svc *proxy.Service, old *svcObjects) (*svcObjects, error) {
	if svc == nil {
		return nil, nil
	}
	o := newSvcObjects()
	for _, sp := range svc.Ports {
		b.buildServicePort(o, old, sp, svc.Endpoints[sp.Name])
	}
	if b.err != nil {
		return nil, b.err
	}
	return o, nil
}

func (b *builder) buildServicePort(o, old *svcObjects, sp *proxy.ServicePort, eps []proxy.Endpoint) {
	p := b.p
	sel := proxy.CategorizeEndpoints(eps, sp, b.node)
	internal, external := sel.Internal(sp), sel.External(sp)
	proto := protoName(*sp)
	port := strconv.Itoa(int(sp.Port))
	comment := sp.Name.String()
	svcChain, extChain := serviceChainName(sp.Name), externalChainName(sp.Name)

	for _, ep := range sel.AllReachable {
		o.endpointIPs[ep.IP] = true
	}
	lb := b.loadBalance(o, old, sp, sel.AllReachable)

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
			o.chains[svcChain] = append(rules, lb(svcChain, internal)...)
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
		o.chains[extChain] = append(rules, lb(extChain, external)...)
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

// loadBalance returns a function writing the rules of a chain that spread
// new connections over eps and DNAT them.
// Without session affinity that is one rule, a DNAT through "numgen random
// mod n offset start" into one of the dnat-targets maps (dnat.go), whose
// keys start..start+n-1 hold the endpoints' "ip . port": a Service costs
// one chain however many endpoints it has and no anonymous set, the two
// things that make nft slow at scale (docs/design/nftables-scaling.md). With
// ClientIP affinity each endpoint gets a chain that records the client in
// the endpoint's affinity set before DNAT, and the service chain first
// sends clients found in a set back to the same endpoint.
func (b *builder) loadBalance(o, old *svcObjects, sp *proxy.ServicePort, reachable []proxy.Endpoint) func(string, []proxy.Endpoint) []string {
	proto := protoName(*sp)
	if sp.AffinityTimeoutSeconds <= 0 {
		return func(chain string, eps []proxy.Endpoint) []string {
			if len(eps) == 1 {
				return []string{fmt.Sprintf("meta l4proto %s dnat ip to %s", proto, eps[0].String())}
			}
			targets := make([]string, len(eps))
			for i, ep := range eps {
				targets[i] = ep.IP + " . " + strconv.Itoa(int(ep.Port))
			}
			blk, ok := dnatBlock{}, false
			if old != nil {
				blk, ok = old.blocks[chain]
				ok = ok && slices.Equal(blk.targets, targets)
			}
			if !ok {
				slots, aerr := b.gen.slots.alloc(len(eps))
				if aerr != nil {
					b.err = cmp.Or(b.err, aerr)
					return nil
				}
				blk = dnatBlock{slots: slots, targets: targets}
			}
			o.blocks[chain] = blk
			m := b.gen.mapFor(chain, proto)
			b.used[m] = proto
			for i, ep := range eps {
				key := strconv.FormatUint(uint64(blk.slots.start)+uint64(i), 10)
				o.addElem(m, true, []string{key}, []string{ep.IP, strconv.Itoa(int(ep.Port))}, sp.Name.String())
			}
			return []string{fmt.Sprintf("meta l4proto %s dnat ip to numgen random mod %d offset %d map @%s",
				proto, len(eps), blk.slots.start, m)}
		}
	}
	epChains := map[string]string{}
	affinitySets := map[string]string{}
	for _, ep := range reachable {
		chain := endpointChainName(sp.Name, ep)
		set := affinitySetName(sp.Name, ep, sp.AffinityTimeoutSeconds)
		epChains[ep.String()] = chain
		affinitySets[ep.String()] = set
		o.sets[set] = sp.AffinityTimeoutSeconds
		o.chains[chain] = []string{
			fmt.Sprintf("update @%s { ip saddr }", set),
			fmt.Sprintf("meta l4proto %s dnat ip to %s", proto, ep.String()),
		}
	}
	return func(_ string, eps []proxy.Endpoint) []string {
		var rules []string
		for _, ep := range eps {
			rules = append(rules, fmt.Sprintf("ip saddr @%s goto %s", affinitySets[ep.String()], epChains[ep.String()]))
		}
		if len(eps) == 1 {
			return append(rules, "goto "+epChains[eps[0].String()])
		}
		arms := make([]string, len(eps))
		for i, ep := range eps {
			arms[i] = fmt.Sprintf("%d : goto %s", i, epChains[ep.String()])
		}
		return append(rules, fmt.Sprintf("numgen random mod %d vmap { %s }", len(eps), strings.Join(arms, " , ")))
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

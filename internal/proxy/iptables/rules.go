package iptables

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/svcnet/svcnet/internal/proxy"
)

// svcRules are the rules one Service contributes: lines for the top-level
// chains (rewritten every sync) and its own nat chains.
type svcRules struct {
	natServices    []string
	natNodePorts   []string
	filterServices []string
	filterExternal []string
	filterFirewall []string
	// filterNodePorts accepts health-check node ports in INPUT.
	filterNodePorts []string
	// clusterIPs get a catch-all reject for ports the Service lacks.
	clusterIPs []string
	// chains maps each per-service nat chain to its rules.
	chains map[string][]string
}

// quote renders one argument for iptables-restore, which splits on blanks
// and honours double quotes.
func quote(a string) string {
	if a == "" || strings.ContainsAny(a, " \t\"'") {
		return strconv.Quote(a)
	}
	return a
}

// rule joins arguments into one rule line (without "-A CHAIN").
func rule(args ...string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = quote(a)
	}
	return strings.Join(q, " ")
}

func comment(c string) []string { return []string{"-m", "comment", "--comment", c} }

func protoArgs(sp *proxy.ServicePort) []string {
	p := strings.ToLower(string(sp.Protocol))
	return []string{"-p", p, "-m", p}
}

// dstArgs matches ip:port of the service port.
func dstArgs(sp *proxy.ServicePort, ip string, port int32) []string {
	a := []string{"-d", ip + "/32"}
	a = append(a, protoArgs(sp)...)
	return append(a, "--dport", strconv.Itoa(int(port)))
}

// rejectArgs is the verdict for a port without any endpoint: a TCP reset
// for TCP, ICMP port-unreachable otherwise.
func rejectArgs(sp *proxy.ServicePort) []string {
	if sp.Protocol == "TCP" {
		return []string{"-j", "REJECT", "--reject-with", "tcp-reset"}
	}
	return []string{"-j", "REJECT"}
}

// noEndpointArgs rejects traffic to a port without endpoints and drops
// traffic that has endpoints elsewhere but none usable here (Local).
func noEndpointArgs(sp *proxy.ServicePort, sel proxy.Selection) []string {
	if sel.HasAny {
		return []string{"-j", "DROP"}
	}
	return rejectArgs(sp)
}

func cat(parts ...[]string) []string {
	var out []string
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// nodePortMatches are the destination matches selecting NodePort
// traffic: local addresses (inside NodePortAddresses when set), never
// loopback (no route_localnet exposure, CVE-2020-8558).
func (p *Proxier) nodePortMatches() [][]string {
	local := []string{"-m", "addrtype", "--dst-type", "LOCAL"}
	if len(p.cfg.NodePortAddresses) == 0 {
		return [][]string{cat([]string{"!", "-d", "127.0.0.0/8"}, local)}
	}
	loopback := netip.MustParsePrefix("127.0.0.0/8")
	var out [][]string
	for _, cidr := range p.cfg.NodePortAddresses {
		pfx, err := netip.ParsePrefix(cidr)
		switch {
		case err != nil || !pfx.Addr().Is4():
			continue // not IPv4: nothing to program
		case !pfx.Overlaps(loopback):
			out = append(out, cat([]string{"-d", pfx.Masked().String()}, local))
		case pfx.Bits() < loopback.Bits():
			// Only one -d per rule: a range holding 127/8 is "any local
			// address but loopback".
			out = append(out, cat([]string{"!", "-d", "127.0.0.0/8"}, local))
		}
	}
	return out
}

// buildService computes the rules of one Service (nil for a deleted one).
func (p *Proxier) buildService(svc *proxy.Service, node proxy.NodeInfo) *svcRules {
	if svc == nil {
		return nil
	}
	r := &svcRules{chains: map[string][]string{}}
	hc := map[int32]bool{}
	for _, sp := range svc.Ports {
		p.buildPort(r, sp, svc.Endpoints[sp.Name], node)
		if n := sp.HealthCheckNodePort; n != 0 && !hc[n] {
			hc[n] = true
			r.filterNodePorts = append(r.filterNodePorts, rule(cat(comment(sp.Name.NamespacedName.String()+" health check node port"),
				[]string{"-p", "tcp", "-m", "tcp", "--dport", strconv.Itoa(int(n)), "-j", "ACCEPT"})...))
		}
	}
	return r
}

func (p *Proxier) buildPort(r *svcRules, sp *proxy.ServicePort, eps []proxy.Endpoint, node proxy.NodeInfo) {
	sel := proxy.CategorizeEndpoints(eps, sp, node)
	name := sp.Name.String()
	cmt := comment(name)

	// Endpoint chains for every endpoint some traffic uses.
	for _, ep := range sel.AllReachable {
		sep := sepChain(sp.Name, ep)
		dnat := cat(cmt, protoArgs(sp))
		if sp.AffinityTimeoutSeconds > 0 {
			dnat = append(dnat, "-m", "recent", "--name", sep, "--set")
		}
		dnat = append(dnat, "-j", "DNAT", "--to-destination", ep.String())
		r.chains[sep] = []string{
			rule(cat(cmt, []string{"-s", ep.IP + "/32", "-j", chainMarkMasq})...),
			rule(dnat...),
		}
	}
	// lb returns the rules spreading traffic over eps.
	lb := func(eps []proxy.Endpoint) []string {
		var rules []string
		if sp.AffinityTimeoutSeconds > 0 {
			for _, ep := range eps {
				sep := sepChain(sp.Name, ep)
				rules = append(rules, rule(cat(cmt, []string{"-m", "recent", "--name", sep, "--rcheck",
					"--seconds", strconv.Itoa(int(sp.AffinityTimeoutSeconds)), "--reap", "-j", sep})...))
			}
		}
		for i, ep := range eps {
			args := cmt
			if n := len(eps) - i; n > 1 {
				args = cat(cmt, []string{"-m", "statistic", "--mode", "random", "--probability", fmt.Sprintf("%0.10f", 1/float64(n))})
			}
			rules = append(rules, rule(cat(args, []string{"-j", sepChain(sp.Name, ep)})...))
		}
		return rules
	}

	clusterChain, localChain := "", ""
	if sp.UsesClusterEndpoints() && len(sel.Cluster) > 0 {
		clusterChain = svcChain(sp.Name)
		r.chains[clusterChain] = lb(sel.Cluster)
	}
	if sp.UsesLocalEndpoints() && len(sel.Local) > 0 {
		localChain = svlChain(sp.Name)
		r.chains[localChain] = lb(sel.Local)
	}

	// Internal (ClusterIP) traffic.
	if sp.ClusterIP != "" {
		r.clusterIPs = append(r.clusterIPs, sp.ClusterIP)
		internal := clusterChain
		if sp.InternalPolicyLocal {
			internal = localChain
		}
		dst := dstArgs(sp, sp.ClusterIP, sp.Port)
		if internal == "" {
			r.filterServices = append(r.filterServices, rule(cat(comment(name+" has no endpoints"), dst, noEndpointArgs(sp, sel))...))
		} else {
			r.natServices = append(r.natServices, rule(cat(comment(name+" cluster IP"), dst, []string{"-j", internal})...))
			var masq []string
			switch {
			case p.cfg.MasqueradeAll:
				masq = cat(cmt, dst, []string{"-j", chainMarkMasq})
			case p.cfg.ClusterCIDR != "":
				masq = cat(cmt, []string{"!", "-s", p.cfg.ClusterCIDR}, dst, []string{"-j", chainMarkMasq})
			}
			if masq != nil {
				r.chains[internal] = append([]string{rule(masq...)}, r.chains[internal]...)
			}
		}
	}

	if !sp.ExternallyAccessible() {
		return
	}
	external := clusterChain
	if sp.ExternalPolicyLocal {
		external = localChain
	}
	// With policy Local and no local endpoint the KUBE-EXT chain still
	// exists when the port has cluster endpoints: pods and the node itself
	// are sent there, everything else falls through to the filter drop.
	hasExternal := external != ""
	ext := ""
	if hasExternal || (sp.ExternalPolicyLocal && clusterChain != "") {
		ext = extChain(sp.Name)
		var rules []string
		switch {
		case sp.ExternalPolicyLocal:
			// Pods and the node itself reach every endpoint (they are not
			// subject to the external policy); the node is masqueraded
			// because its source would be the Service address itself.
			if p.cfg.ClusterCIDR != "" && clusterChain != "" {
				rules = append(rules, rule(cat(comment("pod traffic for "+name+" external destinations"),
					[]string{"-s", p.cfg.ClusterCIDR, "-j", clusterChain})...))
			}
			rules = append(rules, rule(cat(comment("masquerade LOCAL traffic for "+name+" external destinations"),
				[]string{"-m", "addrtype", "--src-type", "LOCAL", "-j", chainMarkMasq})...))
			if clusterChain != "" {
				rules = append(rules, rule(cat(comment("route LOCAL traffic for "+name+" external destinations"),
					[]string{"-m", "addrtype", "--src-type", "LOCAL", "-j", clusterChain})...))
			}
		case p.cfg.ClusterCIDR != "" && !p.cfg.MasqueradeAll:
			rules = append(rules, rule(cat(comment("masquerade traffic for "+name+" external destinations"),
				[]string{"!", "-s", p.cfg.ClusterCIDR, "-j", chainMarkMasq})...))
		default:
			rules = append(rules, rule(cat(comment("masquerade traffic for "+name+" external destinations"),
				[]string{"-j", chainMarkMasq})...))
		}
		if hasExternal {
			rules = append(rules, rule(cat(cmt, []string{"-j", external})...))
		}
		r.chains[ext] = rules
	}
	noEndpoints := func(match []string) {
		r.filterExternal = append(r.filterExternal, rule(cat(comment(name+" has no endpoints"), match, noEndpointArgs(sp, sel))...))
	}

	for _, ip := range sp.ExternalIPs {
		dst := dstArgs(sp, ip, sp.Port)
		if ext != "" {
			r.natServices = append(r.natServices, rule(cat(comment(name+" external IP"), dst, []string{"-j", ext})...))
		}
		if !hasExternal {
			noEndpoints(dst)
		}
	}

	firewalled := len(sp.LoadBalancerSourceRanges) > 0 && len(sp.LoadBalancerIPs) > 0
	if firewalled && ext != "" {
		fw := fwChain(sp.Name)
		var rules []string
		for _, cidr := range sp.LoadBalancerSourceRanges {
			rules = append(rules, rule(cat(comment(name+" loadbalancer IP"), []string{"-s", cidr, "-j", ext})...))
		}
		// Anything else returns un-DNATed and meets KUBE-PROXY-FIREWALL.
		r.chains[fw] = rules
	}
	for _, ip := range sp.LoadBalancerIPs {
		dst := dstArgs(sp, ip, sp.Port)
		if firewalled {
			if !hasExternal {
				// Allowed sources go on to the no-endpoints verdict in
				// KUBE-EXTERNAL-SERVICES; the rest is dropped here.
				for _, cidr := range sp.LoadBalancerSourceRanges {
					r.filterFirewall = append(r.filterFirewall, rule(cat(comment(name+" allowed source"), []string{"-s", cidr}, dst, []string{"-j", "RETURN"})...))
				}
			}
			r.filterFirewall = append(r.filterFirewall, rule(cat(comment(name+" traffic not in loadBalancerSourceRanges"), dst, []string{"-j", "DROP"})...))
		}
		switch {
		case ext == "":
		case firewalled:
			r.natServices = append(r.natServices, rule(cat(comment(name+" loadbalancer IP"), dst, []string{"-j", fwChain(sp.Name)})...))
		default:
			r.natServices = append(r.natServices, rule(cat(comment(name+" loadbalancer IP"), dst, []string{"-j", ext})...))
		}
		if !hasExternal {
			noEndpoints(dst)
		}
	}

	if sp.NodePort != 0 {
		np := cat(protoArgs(sp), []string{"--dport", strconv.Itoa(int(sp.NodePort))})
		if ext != "" {
			r.natNodePorts = append(r.natNodePorts, rule(cat(cmt, np, []string{"-j", ext})...))
		}
		if !hasExternal {
			for _, m := range p.nodePortMatches() {
				noEndpoints(cat(m, np))
			}
		}
	}
}

// staticRules returns the rules of the top-level chains for the given
// per-service rules, visited in order.
func (p *Proxier) staticRules(svcs []*svcRules) (nat, filter map[string][]string) {
	nat = map[string][]string{
		chainMarkMasq: {rule("-j", "MARK", "--or-mark", masqMark)},
		chainPostrouting: {
			rule("-m", "mark", "!", "--mark", masqMark+"/"+masqMark, "-j", "RETURN"),
			rule("-j", "MARK", "--xor-mark", masqMark),
			rule(cat(comment("kubernetes service traffic requiring SNAT"), []string{"-j", "MASQUERADE", "--random-fully"})...),
		},
	}
	filter = map[string][]string{
		chainForward: {
			rule(cat(comment("kubernetes forwarding rules"), []string{"-m", "mark", "--mark", masqMark + "/" + masqMark, "-j", "ACCEPT"})...),
			rule(cat(comment("kubernetes forwarding conntrack rule"), []string{"-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT"})...),
		},
	}
	if p.cfg.DropInvalid {
		// First: an INVALID packet would skip the reverse NAT of its
		// connection (see BackendConfig.DropInvalid).
		filter[chainForward] = append([]string{rule("-m", "conntrack", "--ctstate", "INVALID", "-j", "DROP")}, filter[chainForward]...)
	}
	var clusterIPs []string
	for _, s := range svcs {
		nat[chainServices] = append(nat[chainServices], s.natServices...)
		nat[chainNodePorts] = append(nat[chainNodePorts], s.natNodePorts...)
		filter[chainServices] = append(filter[chainServices], s.filterServices...)
		filter[chainExternalServices] = append(filter[chainExternalServices], s.filterExternal...)
		filter[chainProxyFirewall] = append(filter[chainProxyFirewall], s.filterFirewall...)
		filter[chainNodePorts] = append(filter[chainNodePorts], s.filterNodePorts...)
		for _, ip := range s.clusterIPs {
			if len(clusterIPs) == 0 || clusterIPs[len(clusterIPs)-1] != ip {
				clusterIPs = append(clusterIPs, ip)
			}
		}
	}
	for _, m := range p.nodePortMatches() {
		nat[chainServices] = append(nat[chainServices], rule(cat(comment("kubernetes service nodeports"), m, []string{"-j", chainNodePorts})...))
	}
	// New connections to a cluster IP that nat did not translate are for
	// a port the Service lacks; other service-CIDR addresses are unallocated.
	for _, ip := range clusterIPs {
		filter[chainServices] = append(filter[chainServices], rule(cat(comment("cluster IP without such port"), []string{"-d", ip + "/32", "-j", "REJECT"})...))
	}
	for _, cidr := range p.cfg.ServiceCIDRs {
		filter[chainServices] = append(filter[chainServices], rule(cat(comment("unallocated service IP"), []string{"-d", cidr, "-j", "DROP"})...))
	}
	return nat, filter
}

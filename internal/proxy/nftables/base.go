package nftables

import (
	"sigs.k8s.io/knftables"
)

// Names of the static objects of the table.
const (
	tableName    = "svcnet"
	tableComment = "svcnet service proxy rules"

	natPreroutingChain  = "nat-prerouting"
	natOutputChain      = "nat-output"
	natPostroutingChain = "nat-postrouting"
	filterInputChain    = "filter-input"
	filterForwardChain  = "filter-forward"
	filterOutputChain   = "filter-output"
	// The pre-DNAT filter chains see the original destination, which the
	// loadBalancerSourceRanges firewall must match on.
	filterPreroutingPreDNATChain = "filter-prerouting-pre-dnat"
	filterOutputPreDNATChain     = "filter-output-pre-dnat"

	servicesChain        = "services"
	markMasqChain        = "mark-for-masquerade"
	masqueradingChain    = "masquerading"
	endpointsCheckChain  = "endpoints-check"
	clusterIPsCheckChain = "cluster-ips-check"
	rejectChain          = "reject-chain"
	firewallCheckChain   = "source-ranges-check"

	serviceIPsMap          = "service-ips"
	serviceNodePortsMap    = "service-nodeports"
	noEndpointServicesMap  = "no-endpoint-services"
	noEndpointNodePortsMap = "no-endpoint-nodeports"
	clusterIPsSet          = "cluster-ips"
	serviceCIDRsSet        = "service-cidrs"
	nodePortIPsSet         = "nodeport-ips"
	firewallIPsMap         = "firewall-ips"
	// hairpinSet holds "ip . ip" for every endpoint IP: a DNATed packet
	// whose source and destination form such a pair is a pod reaching
	// itself through a Service, which must be masqueraded.
	hairpinSet = "hairpin-endpoints"
	// dnatMapPrefix starts the names of the dnat-targets maps (dnat.go).
	dnatMapPrefix = "dnat-targets-"

	// masqMark is the packet mark bit asking postrouting to masquerade
	// (kube-proxy uses the same bit).
	masqMark = "0x4000"
)

// staticChains are the regular chains every sync keeps.
var staticChains = []string{servicesChain, markMasqChain, masqueradingChain, endpointsCheckChain, clusterIPsCheckChain,
	rejectChain, firewallCheckChain}

type baseChain struct {
	name     string
	typ      knftables.BaseChainType
	hook     knftables.BaseChainHook
	priority knftables.BaseChainPriority
}

// baseChains hook the table into netfilter. The nat output chain uses the
// number -100 because nft 1.0.6 rejects "dstnat" on the output hook. Filter
// chains run at priority 0, after DNAT, so they only see traffic that was
// not translated (no endpoints, wrong port, unallocated IP).
var baseChains = []baseChain{
	{natPreroutingChain, knftables.NATType, knftables.PreroutingHook, knftables.DNATPriority},
	{natOutputChain, knftables.NATType, knftables.OutputHook, "-100"},
	{natPostroutingChain, knftables.NATType, knftables.PostroutingHook, knftables.SNATPriority},
	{filterInputChain, knftables.FilterType, knftables.InputHook, knftables.FilterPriority},
	{filterForwardChain, knftables.FilterType, knftables.ForwardHook, knftables.FilterPriority},
	{filterOutputChain, knftables.FilterType, knftables.OutputHook, knftables.FilterPriority},
	{filterPreroutingPreDNATChain, knftables.FilterType, knftables.PreroutingHook, "-110"},
	{filterOutputPreDNATChain, knftables.FilterType, knftables.OutputHook, "-110"},
}

// nodePortMatch is the match selecting NodePort destinations.
func (p *Proxier) nodePortMatch() string {
	if len(p.cfg.NodePortAddresses) > 0 {
		return "ip daddr @" + nodePortIPsSet + " fib daddr type local"
	}
	// Never on 127.0.0.0/8: no route_localnet exposure (CVE-2020-8558).
	return "fib daddr type local ip daddr != 127.0.0.0/8"
}

// staticRules returns the rules of every static chain.
func (p *Proxier) staticRules() map[string][]string {
	r := map[string][]string{
		natPreroutingChain:  {"jump " + servicesChain},
		natOutputChain:      {"jump " + servicesChain},
		natPostroutingChain: {"jump " + masqueradingChain},
		filterInputChain:    {"ct state new jump " + endpointsCheckChain},
		filterForwardChain:  {"ct state new jump " + endpointsCheckChain, "ct state new jump " + clusterIPsCheckChain},
		filterOutputChain:   {"ct state new jump " + endpointsCheckChain, "ct state new jump " + clusterIPsCheckChain},
		// Source ranges are checked on every packet, not only new
		// connections, so narrowing them cuts established flows too.
		filterPreroutingPreDNATChain: {"jump " + firewallCheckChain},
		filterOutputPreDNATChain:     {"jump " + firewallCheckChain},
		firewallCheckChain:           {"ip daddr . meta l4proto . th dport vmap @" + firewallIPsMap},
		servicesChain: {
			"ip daddr . meta l4proto . th dport vmap @" + serviceIPsMap,
			p.nodePortMatch() + " meta l4proto . th dport vmap @" + serviceNodePortsMap,
		},
		markMasqChain: {"mark set mark or " + masqMark},
		masqueradingChain: {
			"ct status dnat ip saddr . ip daddr @" + hairpinSet + " jump " + markMasqChain,
			"mark and " + masqMark + " == 0 return",
			"mark set mark xor " + masqMark,
			"masquerade fully-random",
		},
		endpointsCheckChain: {
			"ip daddr . meta l4proto . th dport vmap @" + noEndpointServicesMap,
			p.nodePortMatch() + " meta l4proto . th dport vmap @" + noEndpointNodePortsMap,
		},
		clusterIPsCheckChain: {"ip daddr @" + clusterIPsSet + " reject"},
		rejectChain:          {"meta l4proto tcp reject with tcp reset", "reject"},
	}
	if len(p.cfg.ServiceCIDRs) > 0 {
		r[clusterIPsCheckChain] = append(r[clusterIPsCheckChain], "ip daddr @"+serviceCIDRsSet+" drop")
	}
	if p.cfg.DropInvalid {
		// First: an INVALID packet would skip the reverse NAT of its
		// connection (see BackendConfig.DropInvalid).
		r[filterForwardChain] = append([]string{"ct state invalid drop"}, r[filterForwardChain]...)
	}
	return r
}

// staticMapsAndSets returns the maps and non-affinity sets of the table.
func (p *Proxier) staticMapsAndSets() ([]*knftables.Map, []*knftables.Set) {
	verdictMap := "ipv4_addr . inet_proto . inet_service : verdict"
	portMap := "inet_proto . inet_service : verdict"
	maps := []*knftables.Map{
		{Name: serviceIPsMap, Type: verdictMap},
		{Name: noEndpointServicesMap, Type: verdictMap},
		{Name: serviceNodePortsMap, Type: portMap},
		{Name: noEndpointNodePortsMap, Type: portMap},
		{Name: firewallIPsMap, Type: verdictMap},
	}
	sets := []*knftables.Set{{Name: clusterIPsSet, Type: "ipv4_addr"}, {Name: hairpinSet, Type: "ipv4_addr . ipv4_addr"}}
	if len(p.cfg.ServiceCIDRs) > 0 {
		sets = append(sets, &knftables.Set{Name: serviceCIDRsSet, Type: "ipv4_addr", Flags: []knftables.SetFlag{knftables.IntervalFlag}})
	}
	if len(p.cfg.NodePortAddresses) > 0 {
		sets = append(sets, &knftables.Set{Name: nodePortIPsSet, Type: "ipv4_addr", Flags: []knftables.SetFlag{knftables.IntervalFlag}})
	}
	return maps, sets
}

// writeBase adds the table and every static object, flushes the static
// chains and all maps and non-affinity sets, and refills the static ones.
func (p *Proxier) writeBase(tx *knftables.Transaction) {
	tx.Add(&knftables.Table{Comment: knftables.PtrTo(tableComment)})
	for _, bc := range baseChains {
		tx.Add(&knftables.Chain{Name: bc.name, Type: knftables.PtrTo(bc.typ), Hook: knftables.PtrTo(bc.hook), Priority: knftables.PtrTo(bc.priority)})
	}
	rules := p.staticRules()
	for _, name := range staticChains {
		tx.Add(&knftables.Chain{Name: name})
	}
	maps, sets := p.staticMapsAndSets()
	for _, m := range maps {
		tx.Add(m)
		tx.Flush(m)
	}
	for _, s := range sets {
		tx.Add(s)
		if s.Name != hairpinSet { // diffed against the kernel instead (diffHairpin)
			tx.Flush(s)
		}
	}
	for _, cidr := range p.cfg.ServiceCIDRs {
		tx.Add(&knftables.Element{Set: serviceCIDRsSet, Key: []string{cidr}})
	}
	for _, cidr := range p.cfg.NodePortAddresses {
		tx.Add(&knftables.Element{Set: nodePortIPsSet, Key: []string{cidr}})
	}
	names := make([]string, 0, len(rules))
	for _, bc := range baseChains {
		names = append(names, bc.name)
	}
	names = append(names, staticChains...)
	for _, name := range names {
		tx.Flush(&knftables.Chain{Name: name})
		for _, rule := range rules[name] {
			tx.Add(&knftables.Rule{Chain: name, Rule: rule})
		}
	}
}

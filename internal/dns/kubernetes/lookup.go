package kubernetes

import (
	"net"
	"net/netip"
	"strings"

	"github.com/miekg/dns"
)

// Lookup answers a question. qname may be in any case and is echoed as
// given in the owner names of the answer. ok is false when the zone has
// nothing to say: the name is outside the cluster domain, or is a reverse
// name (in-addr.arpa, ip6.arpa) of an IP that is no ClusterIP or endpoint,
// or a reverse name asked for a type other than PTR. The caller forwards
// such questions.
func (z *Zone) Lookup(qname string, qtype uint16) (resp Response, ok bool) {
	owner := ensureFQDN(qname)
	name := strings.ToLower(owner)
	z.mu.RLock()
	defer z.mu.RUnlock()
	if isReverse(name) {
		return z.lookupReverse(owner, name, qtype)
	}
	if !z.inZone(name) {
		return Response{}, false
	}
	return z.lookup(owner, name, qtype, 0), true
}

// lookup answers a lowercase in-zone name; owner is its original spelling.
func (z *Zone) lookup(owner, name string, qtype uint16, depth int) Response {
	rel := strings.TrimSuffix(strings.TrimSuffix(name, z.origin), ".")
	switch rel {
	case "":
		if qtype == dns.TypeSOA {
			return Response{Answer: []dns.RR{z.soa()}}
		}
		return z.nodata()
	case "dns-version":
		if qtype == dns.TypeTXT {
			return Response{Answer: []dns.RR{&dns.TXT{
				Hdr: dns.RR_Header{Name: owner, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: versionTTL},
				Txt: []string{SchemaVersion},
			}}}
		}
		return z.nodata()
	case "svc", "pod":
		return z.nodata()
	}
	labels := strings.Split(rel, ".")
	n := len(labels)
	kind := labels[n-1]
	if n < 2 || (kind != "svc" && kind != "pod") {
		return z.nxdomain()
	}
	if _, ok := z.namespaces[labels[n-2]]; !ok {
		return z.nxdomain()
	}
	if n == 2 {
		return z.nodata()
	}
	if kind == "pod" {
		return z.podRecords(owner, labels[:n-2], qtype)
	}
	svc := z.services[svcKey{ns: labels[n-2], name: labels[n-3]}]
	if svc == nil || !svc.present {
		return z.nxdomain()
	}
	switch rest := labels[:n-3]; len(rest) {
	case 0:
		return z.serviceRecords(owner, svc, qtype, depth)
	case 1:
		return z.endpointRecords(owner, svc, rest[0], qtype)
	case 2:
		return z.portRecords(owner, svc, rest[0], rest[1], qtype)
	}
	return z.nxdomain()
}

// serviceRecords answers <svc>.<ns>.svc.<domain>.
func (z *Zone) serviceRecords(owner string, svc *service, qtype uint16, depth int) Response {
	switch {
	case svc.externalName != "":
		if qtype == dns.TypeSRV {
			return z.nodata()
		}
		resp := Response{Answer: []dns.RR{&dns.CNAME{Hdr: z.hdr(owner, dns.TypeCNAME), Target: svc.externalName}}}
		if qtype != dns.TypeCNAME && depth < maxChase && z.inZone(svc.externalName) {
			sub := z.lookup(svc.externalName, svc.externalName, qtype, depth+1)
			resp.Rcode = sub.Rcode
			resp.Answer = append(resp.Answer, sub.Answer...)
			resp.Ns, resp.Extra = sub.Ns, sub.Extra
		}
		return resp
	case svc.headless:
		if len(svc.endpoints) == 0 {
			// The specification: a headless Service without ready
			// endpoints is NXDOMAIN.
			return z.nxdomain()
		}
		var resp Response
		switch qtype {
		case dns.TypeA, dns.TypeAAAA:
			for _, ep := range svc.endpoints {
				if familyOf(qtype, ep.ip) {
					resp.Answer = append(resp.Answer, z.addrRR(owner, ep.ip))
				}
			}
		case dns.TypeSRV:
			resp = z.endpointSRV(owner, svc, "", "")
		}
		return z.orNodata(resp)
	default:
		var resp Response
		switch qtype {
		case dns.TypeA, dns.TypeAAAA:
			for _, ip := range svc.clusterIPs {
				if familyOf(qtype, ip) {
					resp.Answer = append(resp.Answer, z.addrRR(owner, ip))
				}
			}
		case dns.TypeSRV:
			resp = z.clusterSRV(owner, svc, svc.ports)
		}
		return z.orNodata(resp)
	}
}

// endpointRecords answers <hostname>.<svc>.<ns>.svc.<domain>, where
// hostname is an endpoint's hostname or its dashed IP.
func (z *Zone) endpointRecords(owner string, svc *service, host string, qtype uint16) Response {
	if svc.externalName != "" {
		return z.nxdomain()
	}
	var resp Response
	found := false
	for i := range svc.endpoints {
		ep := &svc.endpoints[i]
		if ep.host() != host {
			continue
		}
		found = true
		if familyOf(qtype, ep.ip) {
			resp.Answer = append(resp.Answer, z.addrRR(owner, ep.ip))
		}
	}
	if !found {
		return z.nxdomain()
	}
	return z.orNodata(resp)
}

// portRecords answers _<port>._<proto>.<svc>.<ns>.svc.<domain>.
func (z *Zone) portRecords(owner string, svc *service, portLabel, protoLabel string, qtype uint16) Response {
	if svc.externalName != "" || !strings.HasPrefix(portLabel, "_") || !strings.HasPrefix(protoLabel, "_") {
		return z.nxdomain()
	}
	pname, proto := portLabel[1:], protoLabel[1:]
	if pname == "" || proto == "" {
		return z.nxdomain()
	}
	var resp Response
	if svc.headless {
		resp = z.endpointSRV(owner, svc, pname, proto)
	} else {
		var ports []port
		for _, p := range svc.ports {
			if p.name == pname && p.proto == proto {
				ports = append(ports, p)
			}
		}
		resp = z.clusterSRV(owner, svc, ports)
	}
	if len(resp.Answer) == 0 {
		return z.nxdomain()
	}
	if qtype != dns.TypeSRV {
		return z.nodata()
	}
	return resp
}

// clusterSRV returns one SRV per port targeting the Service name, with its
// ClusterIPs in the additional section.
func (z *Zone) clusterSRV(owner string, svc *service, ports []port) Response {
	var resp Response
	target := svc.fqdn(z.origin)
	for _, p := range ports {
		if p.port == 0 {
			continue
		}
		resp.Answer = append(resp.Answer, z.srv(owner, p.port, target))
	}
	if len(resp.Answer) == 0 {
		return resp
	}
	for _, ip := range svc.clusterIPs {
		resp.Extra = append(resp.Extra, z.addrRR(target, ip))
	}
	setWeights(resp.Answer)
	return resp
}

// endpointSRV returns one SRV per ready endpoint and matching port
// (every port when pname is empty) targeting the endpoint's name, with the
// endpoints' addresses in the additional section.
func (z *Zone) endpointSRV(owner string, svc *service, pname, proto string) Response {
	var resp Response
	base := svc.fqdn(z.origin)
	for i := range svc.endpoints {
		ep := &svc.endpoints[i]
		target := ep.host() + "." + base
		matched := false
		for _, p := range ep.ports {
			if p.port == 0 || (pname != "" && (p.name != pname || p.proto != proto)) {
				continue
			}
			matched = true
			resp.Answer = append(resp.Answer, z.srv(owner, p.port, target))
		}
		if matched {
			resp.Extra = append(resp.Extra, z.addrRR(target, ep.ip))
		}
	}
	setWeights(resp.Answer)
	return resp
}

// podRecords answers <a-b-c-d>.<ns>.pod.<domain> without checking that
// such a pod exists (CoreDNS `pods insecure`).
func (z *Zone) podRecords(owner string, rest []string, qtype uint16) Response {
	if len(rest) != 1 {
		return z.nxdomain()
	}
	ip, ok := podIP(rest[0])
	if !ok {
		return z.nxdomain()
	}
	var resp Response
	if familyOf(qtype, ip) {
		resp.Answer = []dns.RR{z.addrRR(owner, ip)}
	}
	return z.orNodata(resp)
}

// lookupReverse answers PTR questions for ClusterIPs and endpoint IPs.
func (z *Zone) lookupReverse(owner, name string, qtype uint16) (Response, bool) {
	ip, ok := reverseIP(name)
	if !ok || qtype != dns.TypePTR {
		return Response{}, false
	}
	refs := z.reverse[ip]
	if len(refs) == 0 {
		return Response{}, false
	}
	var resp Response
	seen := make(map[string]struct{}, len(refs))
	for _, r := range refs {
		target := r.svc.fqdn(z.origin)
		if r.endpoint {
			host := r.hostname
			if host == "" {
				host = dashed(ip)
			}
			target = host + "." + target
		}
		if _, dup := seen[target]; dup {
			continue
		}
		seen[target] = struct{}{}
		resp.Answer = append(resp.Answer, &dns.PTR{Hdr: z.hdr(owner, dns.TypePTR), Ptr: target})
	}
	return resp, true
}

func (z *Zone) hdr(name string, t uint16) dns.RR_Header {
	return dns.RR_Header{Name: name, Rrtype: t, Class: dns.ClassINET, Ttl: z.ttl}
}

func (z *Zone) addrRR(name string, ip netip.Addr) dns.RR {
	if ip.Is4() {
		b := ip.As4()
		return &dns.A{Hdr: z.hdr(name, dns.TypeA), A: net.IP(b[:])}
	}
	b := ip.As16()
	return &dns.AAAA{Hdr: z.hdr(name, dns.TypeAAAA), AAAA: net.IP(b[:])}
}

func (z *Zone) srv(name string, p uint16, target string) dns.RR {
	return &dns.SRV{Hdr: z.hdr(name, dns.TypeSRV), Priority: 0, Weight: 100, Port: p, Target: target}
}

// soa is the zone's SOA in CoreDNS's shape; its minimum is the record TTL,
// so negative answers are cached as long as positive ones.
func (z *Zone) soa() dns.RR {
	return &dns.SOA{
		Hdr:     dns.RR_Header{Name: z.origin, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: min(z.ttl, maxSOATTL)},
		Ns:      "ns.dns." + z.origin,
		Mbox:    "hostmaster." + z.origin,
		Serial:  z.serial,
		Refresh: 7200,
		Retry:   1800,
		Expire:  86400,
		Minttl:  z.ttl,
	}
}

func (z *Zone) nodata() Response {
	return Response{Rcode: dns.RcodeSuccess, Ns: []dns.RR{z.soa()}}
}

func (z *Zone) nxdomain() Response {
	return Response{Rcode: dns.RcodeNameError, Ns: []dns.RR{z.soa()}}
}

// orNodata turns an empty answer for an existing name into NODATA.
func (z *Zone) orNodata(resp Response) Response {
	if len(resp.Answer) == 0 {
		return z.nodata()
	}
	return resp
}

// familyOf reports whether ip answers qtype: IPv4 for A, IPv6 for AAAA.
func familyOf(qtype uint16, ip netip.Addr) bool {
	return (qtype == dns.TypeA && ip.Is4()) || (qtype == dns.TypeAAAA && ip.Is6())
}

// setWeights spreads a weight of 100 evenly over SRV records of equal
// priority, as CoreDNS does (all are priority 0 here).
func setWeights(rrs []dns.RR) {
	if len(rrs) == 0 {
		return
	}
	w := uint16(max(100/len(rrs), 1))
	for _, rr := range rrs {
		rr.(*dns.SRV).Weight = w
	}
}

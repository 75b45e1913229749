package kubernetes

import (
	"net/netip"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// svcKey identifies a Service by namespace and name, both lowercase.
type svcKey struct {
	ns, name string
}

// port is a Service or EndpointSlice port as DNS needs it.
type port struct {
	name  string // lowercase; "" for an unnamed port
	proto string // lowercase: "tcp", "udp", "sctp"
	port  uint16
}

// endpoint is one address of a ready endpoint of a Service.
type endpoint struct {
	ip       netip.Addr
	hostname string // the endpoint's hostname field, lowercase; "" when unset
	ports    []port // shared with the EndpointSlice it came from
}

// host is the label naming the endpoint under its Service: its hostname, or
// its IP with dots (IPv4) or colons (IPv6) replaced by dashes.
func (e *endpoint) host() string {
	if e.hostname != "" {
		return e.hostname
	}
	return dashed(e.ip)
}

// service is the DNS view of one Service and its ready endpoints.
type service struct {
	key             svcKey
	present         bool // false while only EndpointSlices of it are known
	headless        bool
	externalName    string // lowercase FQDN for ExternalName Services
	clusterIPs      []netip.Addr
	ports           []port
	publishNotReady bool
	endpoints       []endpoint // ready (or published) addresses, unique by IP
	reverse         []netip.Addr
}

// fqdn returns "name.ns.svc.<domain>.".
func (s *service) fqdn(domain string) string {
	return s.key.name + "." + s.key.ns + ".svc." + domain
}

// sliceEntry is the DNS view of one EndpointSlice.
type sliceEntry struct {
	svc       svcKey
	ports     []port
	endpoints []sliceEndpoint
}

type sliceEndpoint struct {
	addrs    []netip.Addr
	hostname string
	ready    bool
}

// revRef names one owner of an IP for PTR answers: the Service itself (its
// ClusterIP) or one of its endpoints.
type revRef struct {
	svc      *service
	endpoint bool
	hostname string // explicit endpoint hostname; "" means the dashed IP
}

// upsertService records the Service and rebuilds its records. Callers hold
// the write lock.
func (z *Zone) upsertService(s *corev1.Service) {
	key := svcKey{ns: strings.ToLower(s.Namespace), name: strings.ToLower(s.Name)}
	e := z.services[key]
	if e == nil {
		e = &service{key: key}
		z.services[key] = e
	}
	e.present = true
	e.headless = false
	e.externalName = ""
	e.clusterIPs = e.clusterIPs[:0]
	e.publishNotReady = s.Spec.PublishNotReadyAddresses
	switch {
	case s.Spec.Type == corev1.ServiceTypeExternalName:
		e.externalName = strings.ToLower(ensureFQDN(s.Spec.ExternalName))
	case s.Spec.ClusterIP == corev1.ClusterIPNone:
		e.headless = true
	default:
		ips := s.Spec.ClusterIPs
		if len(ips) == 0 && s.Spec.ClusterIP != "" {
			ips = []string{s.Spec.ClusterIP}
		}
		for _, ip := range ips {
			if a, err := netip.ParseAddr(ip); err == nil {
				e.clusterIPs = append(e.clusterIPs, a.Unmap())
			}
		}
	}
	ports := make([]port, 0, len(s.Spec.Ports))
	for _, p := range s.Spec.Ports {
		ports = append(ports, port{name: strings.ToLower(p.Name), proto: protoName(p.Protocol), port: uint16(p.Port)})
	}
	e.ports = ports
	z.rebuild(e)
}

// deleteService forgets the Service; EndpointSlices left behind keep their
// entries until they are deleted too.
func (z *Zone) deleteService(ns, name string) {
	key := svcKey{ns: strings.ToLower(ns), name: strings.ToLower(name)}
	e := z.services[key]
	if e == nil {
		return
	}
	e.present = false
	z.rebuild(e)
	if len(z.slicesBySvc[key]) == 0 {
		delete(z.services, key)
	}
}

// upsertSlice records the EndpointSlice and rebuilds its Service's records.
func (z *Zone) upsertSlice(s *discoveryv1.EndpointSlice) {
	id := strings.ToLower(s.Namespace) + "/" + s.Name
	old := z.slices[id]
	svcName := s.Labels[discoveryv1.LabelServiceName]
	if svcName == "" {
		// Not owned by a Service: nothing in DNS refers to it.
		if old != nil {
			z.deleteSlice(s.Namespace, s.Name)
		}
		return
	}
	key := svcKey{ns: strings.ToLower(s.Namespace), name: strings.ToLower(svcName)}
	if old != nil && old.svc != key {
		z.deleteSlice(s.Namespace, s.Name)
	}
	ent := &sliceEntry{svc: key}
	for _, p := range s.Ports {
		var pt port
		if p.Name != nil {
			pt.name = strings.ToLower(*p.Name)
		}
		pt.proto = "tcp"
		if p.Protocol != nil {
			pt.proto = protoName(*p.Protocol)
		}
		if p.Port != nil {
			pt.port = uint16(*p.Port)
		}
		ent.ports = append(ent.ports, pt)
	}
	for _, ep := range s.Endpoints {
		se := sliceEndpoint{ready: ep.Conditions.Ready == nil || *ep.Conditions.Ready}
		if ep.Hostname != nil {
			se.hostname = strings.ToLower(*ep.Hostname)
		}
		for _, a := range ep.Addresses {
			if ip, err := netip.ParseAddr(a); err == nil {
				se.addrs = append(se.addrs, ip.Unmap())
			}
		}
		ent.endpoints = append(ent.endpoints, se)
	}
	z.slices[id] = ent
	set := z.slicesBySvc[key]
	if set == nil {
		set = make(map[string]*sliceEntry)
		z.slicesBySvc[key] = set
	}
	set[id] = ent
	e := z.services[key]
	if e == nil {
		e = &service{key: key}
		z.services[key] = e
	}
	z.rebuild(e)
}

// deleteSlice forgets the EndpointSlice and rebuilds its Service's records.
func (z *Zone) deleteSlice(ns, name string) {
	id := strings.ToLower(ns) + "/" + name
	old := z.slices[id]
	if old == nil {
		return
	}
	delete(z.slices, id)
	set := z.slicesBySvc[old.svc]
	delete(set, id)
	if len(set) == 0 {
		delete(z.slicesBySvc, old.svc)
	}
	if e := z.services[old.svc]; e != nil {
		z.rebuild(e)
		if !e.present && len(set) == 0 {
			delete(z.services, old.svc)
		}
	}
}

// rebuild recomputes the Service's ready endpoints and its entries in the
// reverse index from the Service and all of its EndpointSlices.
func (z *Zone) rebuild(e *service) {
	for _, ip := range e.reverse {
		z.removeReverse(ip, e)
	}
	e.reverse = e.reverse[:0]
	e.endpoints = e.endpoints[:0]
	z.touch()
	if !e.present {
		e.endpoints = nil
		e.reverse = nil
		return
	}
	for _, ip := range e.clusterIPs {
		z.addReverse(ip, revRef{svc: e})
		e.reverse = append(e.reverse, ip)
	}
	if e.externalName != "" {
		return
	}
	seen := make(map[netip.Addr]struct{})
	for _, s := range z.slicesBySvc[e.key] {
		for _, se := range s.endpoints {
			if !se.ready && !e.publishNotReady {
				continue
			}
			for _, ip := range se.addrs {
				if _, dup := seen[ip]; dup {
					continue
				}
				seen[ip] = struct{}{}
				e.endpoints = append(e.endpoints, endpoint{ip: ip, hostname: se.hostname, ports: s.ports})
				z.addReverse(ip, revRef{svc: e, endpoint: true, hostname: se.hostname})
				e.reverse = append(e.reverse, ip)
			}
		}
	}
	sortEndpoints(e.endpoints)
}

func (z *Zone) addReverse(ip netip.Addr, r revRef) {
	z.reverse[ip] = append(z.reverse[ip], r)
}

func (z *Zone) removeReverse(ip netip.Addr, e *service) {
	refs := z.reverse[ip]
	kept := refs[:0]
	for _, r := range refs {
		if r.svc != e {
			kept = append(kept, r)
		}
	}
	if len(kept) == 0 {
		delete(z.reverse, ip)
		return
	}
	for i := len(kept); i < len(refs); i++ {
		refs[i] = revRef{}
	}
	z.reverse[ip] = kept
}

// touch advances the SOA serial to the current time in seconds.
func (z *Zone) touch() {
	z.serial = uint32(z.now().Unix())
}

func protoName(p corev1.Protocol) string {
	if p == "" {
		return "tcp"
	}
	return strings.ToLower(string(p))
}

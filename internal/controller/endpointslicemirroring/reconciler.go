package endpointslicemirroring

import (
	"cmp"
	"fmt"
	"maps"
	"net"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discovery "k8s.io/api/discovery/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	endpointsreg "github.com/svcnet/svcnet/internal/registry/core/endpoints"
)

// group is the desired content of one mirrored slice: the endpoints of one
// address family for one set of ports.
type group struct {
	addressType discovery.AddressType
	ports       []discovery.EndpointPort
	endpoints   []discovery.Endpoint
}

// mirror is what an Endpoints object asks for.
type mirror struct {
	groups map[string]*group
	// invalid counts addresses that are not IPs; skipped counts every
	// address not mirrored (invalid ones included).
	invalid, skipped int
}

// plan lists the slice writes of a sync.
type plan struct {
	create, update, delete []*discovery.EndpointSlice
}

func (p plan) empty() bool { return len(p.create)+len(p.update)+len(p.delete) == 0 }

// desired computes the slices an Endpoints object mirrors to: its subsets
// repacked into canonical form, then per subset and address family one
// group, with ready addresses before not-ready ones and at most
// maxPerSubset addresses per subset.
func desired(ep *corev1.Endpoints, maxPerSubset int) mirror {
	m := mirror{groups: map[string]*group{}}
	for _, ss := range endpointsreg.RepackSubsets(ep.Subsets) {
		ports := slicePorts(ss.Ports)
		added := 0
		add := func(a corev1.EndpointAddress, ready bool) {
			if added >= maxPerSubset {
				m.skipped++
				return
			}
			e, addrType, ok := sliceEndpoint(a, ready)
			if !ok {
				m.invalid++
				m.skipped++
				return
			}
			added++
			k := groupKey(addrType, ports)
			g := m.groups[k]
			if g == nil {
				g = &group{addressType: addrType, ports: ports}
				m.groups[k] = g
			}
			g.endpoints = append(g.endpoints, e)
		}
		for _, a := range ss.Addresses {
			add(a, true)
		}
		for _, a := range ss.NotReadyAddresses {
			add(a, false)
		}
	}
	for _, g := range m.groups {
		slices.SortFunc(g.endpoints, compareEndpoints)
	}
	return m
}

// sliceEndpoint converts an Endpoints address; ok is false when the IP does
// not parse.
func sliceEndpoint(a corev1.EndpointAddress, ready bool) (discovery.Endpoint, discovery.AddressType, bool) {
	ip := net.ParseIP(a.IP)
	if ip == nil {
		return discovery.Endpoint{}, "", false
	}
	addrType := discovery.AddressTypeIPv4
	if ip.To4() == nil {
		addrType = discovery.AddressTypeIPv6
	}
	e := discovery.Endpoint{
		Addresses:  []string{ip.String()},
		Conditions: discovery.EndpointConditions{Ready: &ready},
	}
	if a.TargetRef != nil {
		ref := *a.TargetRef
		e.TargetRef = &ref
	}
	if a.NodeName != nil {
		node := *a.NodeName
		e.NodeName = &node
	}
	if a.Hostname != "" {
		host := a.Hostname
		e.Hostname = &host
	}
	return e, addrType, true
}

func slicePorts(in []corev1.EndpointPort) []discovery.EndpointPort {
	out := make([]discovery.EndpointPort, 0, len(in))
	for _, p := range in {
		name, port, proto := p.Name, p.Port, p.Protocol
		sp := discovery.EndpointPort{Name: &name, Port: &port, Protocol: &proto}
		if p.AppProtocol != nil {
			ap := *p.AppProtocol
			sp.AppProtocol = &ap
		}
		out = append(out, sp)
	}
	return out
}

// groupKey identifies a slice by address family and port set (in any
// order).
func groupKey(addrType discovery.AddressType, ports []discovery.EndpointPort) string {
	parts := make([]string, 0, len(ports))
	for _, p := range ports {
		parts = append(parts, fmt.Sprintf("%s/%d/%s/%s", deref(p.Name), deref(p.Port), deref(p.Protocol), deref(p.AppProtocol)))
	}
	slices.Sort(parts)
	return string(addrType) + "|" + strings.Join(parts, ",")
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func compareEndpoints(a, b discovery.Endpoint) int {
	var ua, ub string
	if a.TargetRef != nil {
		ua = string(a.TargetRef.UID)
	}
	if b.TargetRef != nil {
		ub = string(b.TargetRef.UID)
	}
	return cmp.Or(slices.Compare(a.Addresses, b.Addresses), cmp.Compare(ua, ub))
}

// compute plans the writes that make existing (the managed slices of the
// Endpoints) mirror m: per group, the first existing slice (by name) is
// kept and rewritten if needed, the others deleted; groups without a slice
// get a new one, recycling a slice of the same family that would be
// deleted.
func compute(ep *corev1.Endpoints, m mirror, existing []*discovery.EndpointSlice) plan {
	byKey := map[string][]*discovery.EndpointSlice{}
	for _, s := range existing {
		k := groupKey(s.AddressType, s.Ports)
		byKey[k] = append(byKey[k], s)
	}
	var p plan
	for _, k := range slices.Sorted(maps.Keys(byKey)) {
		have := byKey[k]
		slices.SortFunc(have, func(a, b *discovery.EndpointSlice) int { return cmp.Compare(a.Name, b.Name) })
		g, ok := m.groups[k]
		if !ok {
			p.delete = append(p.delete, have...)
			continue
		}
		p.delete = append(p.delete, have[1:]...)
		want := newSlice(ep, g, have[0].Name)
		if !upToDate(have[0], want) {
			p.update = append(p.update, want)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(m.groups)) {
		if _, ok := byKey[k]; !ok {
			p.create = append(p.create, newSlice(ep, m.groups[k], ""))
		}
	}
	return recycle(p)
}

// recycle turns creates into updates of slices of the same address family
// that would be deleted, saving API calls and slice churn.
func recycle(p plan) plan {
	var creates []*discovery.EndpointSlice
	for _, s := range p.create {
		i := slices.IndexFunc(p.delete, func(d *discovery.EndpointSlice) bool { return d.AddressType == s.AddressType })
		if i < 0 {
			creates = append(creates, s)
			continue
		}
		s.Name, s.GenerateName = p.delete[i].Name, ""
		p.delete = slices.Delete(p.delete, i, i+1)
		p.update = append(p.update, s)
	}
	p.create = creates
	return p
}

// newSlice builds the slice of a group: the Endpoints' labels (with the
// service-name and managed-by labels set) and annotations (but the trigger
// time and kubectl's last-applied configuration), owned by the Endpoints.
// An empty name makes a slice to create with generateName "<name>-".
func newSlice(ep *corev1.Endpoints, g *group, name string) *discovery.EndpointSlice {
	s := &discovery.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			Name:        name,
			Namespace:   ep.Namespace,
			Labels:      maps.Clone(ep.Labels),
			Annotations: mirroredAnnotations(ep.Annotations),
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(ep,
				corev1.SchemeGroupVersion.WithKind("Endpoints"))},
		},
		AddressType: g.addressType,
		Ports:       g.ports,
		Endpoints:   g.endpoints,
	}
	if name == "" {
		s.GenerateName = ep.Name + "-"
	}
	if s.Labels == nil {
		s.Labels = map[string]string{}
	}
	s.Labels[discovery.LabelServiceName] = ep.Name
	s.Labels[discovery.LabelManagedBy] = ControllerName
	return s
}

func mirroredAnnotations(in map[string]string) map[string]string {
	out := maps.Clone(in)
	delete(out, corev1.EndpointsLastChangeTriggerTime)
	delete(out, corev1.LastAppliedConfigAnnotation)
	if out == nil {
		out = map[string]string{}
	}
	return out
}

// upToDate reports whether an existing slice already holds what want
// carries.
func upToDate(have, want *discovery.EndpointSlice) bool {
	eps := slices.Clone(have.Endpoints)
	slices.SortFunc(eps, compareEndpoints)
	return apiequality.Semantic.DeepEqual(eps, want.Endpoints) &&
		apiequality.Semantic.DeepEqual(have.Labels, want.Labels) &&
		apiequality.Semantic.DeepEqual(have.Annotations, want.Annotations) &&
		apiequality.Semantic.DeepEqual(have.OwnerReferences, want.OwnerReferences)
}

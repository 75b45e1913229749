package endpoints

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// addressKey identifies an address across subsets: the same IP backed by
// two different targets stays two addresses.
type addressKey struct {
	ip  string
	uid types.UID
}

// noPorts stands for "no ports" so that addresses of port-less subsets
// are kept.
var noPorts = corev1.EndpointPort{Port: -1}

// RepackSubsets returns subsets in canonical form, as kube-apiserver
// stores them: every address appears once per distinct port set, an
// address both ready and not ready for a port counts as ready, addresses
// are grouped by the exact set of ports they serve, and addresses, ports
// and subsets are sorted.
func RepackSubsets(subsets []corev1.EndpointSubset) []corev1.EndpointSubset {
	addrs := map[addressKey]corev1.EndpointAddress{}
	// ready[port][address] is the readiness of address for port.
	ready := map[corev1.EndpointPort]map[addressKey]bool{}
	note := func(a corev1.EndpointAddress, p corev1.EndpointPort, isReady bool) {
		k := addressKey{ip: a.IP}
		if a.TargetRef != nil {
			k.uid = a.TargetRef.UID
		}
		if _, ok := addrs[k]; !ok {
			addrs[k] = a
		}
		if ready[p] == nil {
			ready[p] = map[addressKey]bool{}
		}
		ready[p][k] = ready[p][k] || isReady
	}
	for _, ss := range subsets {
		ports := ss.Ports
		if len(ports) == 0 {
			ports = []corev1.EndpointPort{noPorts}
		}
		for _, p := range ports {
			for _, a := range ss.Addresses {
				note(a, p, true)
			}
			for _, a := range ss.NotReadyAddresses {
				note(a, p, false)
			}
		}
	}

	// Group ports by the identical address set (with readiness) they map to.
	type group struct {
		set   map[addressKey]bool
		ports []corev1.EndpointPort
	}
	groups := map[string]*group{}
	for p, set := range ready {
		sig := signature(set)
		g := groups[sig]
		if g == nil {
			g = &group{set: set}
			groups[sig] = g
		}
		if p != noPorts {
			g.ports = append(g.ports, p)
		}
	}

	out := make([]corev1.EndpointSubset, 0, len(groups))
	for _, g := range groups {
		var ss corev1.EndpointSubset
		for k, isReady := range g.set {
			if isReady {
				ss.Addresses = append(ss.Addresses, addrs[k])
			} else {
				ss.NotReadyAddresses = append(ss.NotReadyAddresses, addrs[k])
			}
		}
		slices.SortFunc(ss.Addresses, compareAddresses)
		slices.SortFunc(ss.NotReadyAddresses, compareAddresses)
		slices.SortFunc(g.ports, comparePorts)
		ss.Ports = g.ports
		out = append(out, ss)
	}
	slices.SortFunc(out, func(a, b corev1.EndpointSubset) int {
		return cmp.Compare(subsetKey(a), subsetKey(b))
	})
	return out
}

func signature(set map[addressKey]bool) string {
	parts := make([]string, 0, len(set))
	for k, isReady := range set {
		r := "n"
		if isReady {
			r = "r"
		}
		parts = append(parts, k.ip+"/"+string(k.uid)+"/"+r)
	}
	slices.Sort(parts)
	return strings.Join(parts, ",")
}

func uidOf(a corev1.EndpointAddress) types.UID {
	if a.TargetRef == nil {
		return ""
	}
	return a.TargetRef.UID
}

func compareAddresses(a, b corev1.EndpointAddress) int {
	return cmp.Or(cmp.Compare(a.IP, b.IP), cmp.Compare(uidOf(a), uidOf(b)))
}

func comparePorts(a, b corev1.EndpointPort) int {
	return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Port, b.Port), cmp.Compare(a.Protocol, b.Protocol))
}

// subsetKey orders subsets by their addresses, then their ports.
func subsetKey(ss corev1.EndpointSubset) string {
	var b strings.Builder
	for _, a := range ss.Addresses {
		b.WriteString(a.IP + ",")
	}
	b.WriteString("|")
	for _, a := range ss.NotReadyAddresses {
		b.WriteString(a.IP + ",")
	}
	b.WriteString("|")
	for _, p := range ss.Ports {
		fmt.Fprintf(&b, "%s/%d/%s,", p.Name, p.Port, p.Protocol)
	}
	return b.String()
}

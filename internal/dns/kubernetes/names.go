package kubernetes

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// dashed writes an IP as a single DNS label: 10.0.0.1 becomes 10-0-0-1 and
// fd00::1 becomes fd00--1, as CoreDNS names endpoints without a hostname.
func dashed(ip netip.Addr) string {
	s := ip.String()
	if ip.Is4() {
		return strings.ReplaceAll(s, ".", "-")
	}
	return strings.ReplaceAll(s, ":", "-")
}

// podIP parses the first label of a pod name: a-b-c-d for IPv4 and the
// dashed form of an IPv6 address otherwise.
func podIP(label string) (netip.Addr, bool) {
	var s string
	if strings.Count(label, "-") == 3 && !strings.Contains(label, "--") {
		s = strings.ReplaceAll(label, "-", ".")
	} else {
		s = strings.ReplaceAll(label, "-", ":")
	}
	ip, err := netip.ParseAddr(s)
	if err != nil || ip.Zone() != "" {
		return netip.Addr{}, false
	}
	return ip, true
}

// ensureFQDN adds the trailing dot a fully qualified name needs.
func ensureFQDN(s string) string {
	if strings.HasSuffix(s, ".") {
		return s
	}
	return s + "."
}

const (
	v4Reverse = ".in-addr.arpa."
	v6Reverse = ".ip6.arpa."
)

// isReverse reports whether the lowercase FQDN is under in-addr.arpa or
// ip6.arpa.
func isReverse(name string) bool {
	return strings.HasSuffix(name, v4Reverse) || strings.HasSuffix(name, v6Reverse)
}

// reverseIP parses a complete reverse name (four labels under in-addr.arpa,
// 32 nibbles under ip6.arpa) into the address it names.
func reverseIP(name string) (netip.Addr, bool) {
	switch {
	case strings.HasSuffix(name, v4Reverse):
		labels := strings.Split(strings.TrimSuffix(name, v4Reverse), ".")
		if len(labels) != 4 {
			return netip.Addr{}, false
		}
		var b [4]byte
		for i, l := range labels {
			n, err := strconv.ParseUint(l, 10, 8)
			if err != nil || (len(l) > 1 && l[0] == '0') {
				return netip.Addr{}, false
			}
			b[3-i] = byte(n)
		}
		return netip.AddrFrom4(b), true
	case strings.HasSuffix(name, v6Reverse):
		labels := strings.Split(strings.TrimSuffix(name, v6Reverse), ".")
		if len(labels) != 32 {
			return netip.Addr{}, false
		}
		var b [16]byte
		for i, l := range labels {
			if len(l) != 1 {
				return netip.Addr{}, false
			}
			n, err := strconv.ParseUint(l, 16, 4)
			if err != nil {
				return netip.Addr{}, false
			}
			pos := 31 - i
			if pos%2 == 0 {
				b[pos/2] |= byte(n) << 4
			} else {
				b[pos/2] |= byte(n)
			}
		}
		return netip.AddrFrom16(b), true
	}
	return netip.Addr{}, false
}

// sortEndpoints orders endpoints by IP so answers are stable.
func sortEndpoints(eps []endpoint) {
	slices.SortFunc(eps, func(a, b endpoint) int { return a.ip.Compare(b.ip) })
}

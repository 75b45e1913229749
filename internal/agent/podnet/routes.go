package podnet

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// routeProtocol tags the routes podnet owns so stale ones can be found
// (an otherwise unused value of the rtnetlink protocol field).
const routeProtocol netlink.RouteProtocol = 0x5c

// NodeRoute sends a remote node's pod range via that node's InternalIP.
type NodeRoute struct {
	PodCIDR netip.Prefix
	Via     netip.Addr
}

// SyncRoutes makes the tagged routes equal to want: missing ones are added
// or replaced, others removed. Routes whose gateway is unreachable are
// reported in the returned error but do not stop the others.
func (m *Manager) SyncRoutes(want []NodeRoute) error {
	var errs []error
	keep := map[string]bool{}
	for _, r := range want {
		if r.PodCIDR.Masked() == m.cfg.PodCIDR.Masked() {
			continue
		}
		keep[r.PodCIDR.Masked().String()] = true
		route := &netlink.Route{
			Dst:      ipNet(r.PodCIDR.Masked().Addr(), r.PodCIDR.Bits()),
			Gw:       r.Via.AsSlice(),
			Protocol: routeProtocol,
		}
		if err := netlink.RouteReplace(route); err != nil {
			errs = append(errs, fmt.Errorf("route %s via %s: %w", r.PodCIDR, r.Via, err))
		}
	}
	have, err := netlink.RouteListFiltered(unix.AF_INET, &netlink.Route{Protocol: routeProtocol}, netlink.RT_FILTER_PROTOCOL)
	if err != nil {
		return errors.Join(append(errs, fmt.Errorf("listing routes: %w", err))...)
	}
	for _, r := range have {
		if r.Dst == nil || keep[r.Dst.String()] {
			continue
		}
		if err := netlink.RouteDel(&r); err != nil {
			errs = append(errs, fmt.Errorf("deleting route %s: %w", r.Dst, err))
		}
	}
	return errors.Join(errs...)
}

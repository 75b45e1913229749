package announce

import (
	"net/netip"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/svcnet/svcnet/internal/controller/loadbalancer"
)

// inPools returns the filter of announceable addresses: those of the pools
// the LoadBalancer controller published, nothing while they are missing or
// unreadable, everything when the announcer has no pool informer.
func (a *Announcer) inPools() func(netip.Addr) bool {
	if a.pools == nil {
		return nil
	}
	cm, err := a.pools.ConfigMaps(loadbalancer.PoolsNamespace).Get(loadbalancer.PoolsConfigMap)
	if err != nil {
		if !apierrors.IsNotFound(err) {
			a.log.Warn("Announced no load-balancer IPs: pools unreadable", "err", err)
		}
		return func(netip.Addr) bool { return false }
	}
	pools, err := loadbalancer.ParsePools([]string{cm.Data[loadbalancer.PoolsKey]})
	if err != nil {
		a.log.Warn("Announced no load-balancer IPs: pools malformed", "configMap", loadbalancer.PoolsNamespace+"/"+loadbalancer.PoolsConfigMap, "err", err)
		return func(netip.Addr) bool { return false }
	}
	return func(ip netip.Addr) bool {
		return slices.ContainsFunc(pools, func(p loadbalancer.Pool) bool { return p.Contains(ip) })
	}
}

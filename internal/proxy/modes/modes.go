// Package modes maps proxy mode names to backend constructors, so the
// proxy package itself never imports a backend.
package modes

import (
	"github.com/svcnet/svcnet/internal/proxy"
	"github.com/svcnet/svcnet/internal/proxy/iptables"
	"github.com/svcnet/svcnet/internal/proxy/nftables"
	"github.com/svcnet/svcnet/internal/proxy/userspace"
)

// Backends returns the available modes for proxy.Config.Backends.
func Backends() map[string]proxy.BackendFactory {
	return map[string]proxy.BackendFactory{
		"iptables":  iptables.Factory,
		"nftables":  nftables.Factory,
		"userspace": userspace.Factory,
	}
}

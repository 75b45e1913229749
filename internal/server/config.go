package server

import (
	"fmt"
	"net"
	"net/netip"
	"sort"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/version"

	"github.com/svcnet/svcnet/internal/proxy"
)

// Components that --disable can turn off.
var componentNames = []string{"agent", "controllers", "dns", "proxy"}

// ComponentNames lists the names --disable accepts.
func ComponentNames() string { return strings.Join(componentNames, ", ") }

// Config is the configuration of `svcnet server`.
type Config struct {
	DataDir                string
	BindAddress            string
	SecurePort             int
	AdvertiseAddress       string
	ServiceClusterIPRanges []string
	ServiceNodePortRange   string
	ClusterCIDR            string
	ClusterDomain          string
	EtcdServers            []string
	Disable                []string
	// MaxEndpointsPerSlice bounds the endpoints of one EndpointSlice.
	MaxEndpointsPerSlice int
	// NodeName names this machine's Node (default: the hostname).
	NodeName string
	// ProxyMode is nftables, iptables or userspace.
	ProxyMode string
	// LoadBalancerIPPools are the address pools of LoadBalancer Services
	// (CIDRs, "first-last" ranges or single addresses).
	LoadBalancerIPPools []string
	// LoadBalancerClass is the loadBalancerClass the built-in controller
	// serves ("" = Services without a class).
	LoadBalancerClass string
	// RefuseExternalIPs makes the proxy ignore spec.externalIPs.
	RefuseExternalIPs bool
	// ClusterDNS is the kube-dns ClusterIP written into pods' resolv.conf.
	ClusterDNS string
	// ProxyMinSyncPeriod bounds the proxy's sustained sync rate (0: a
	// sync for every change).
	ProxyMinSyncPeriod time.Duration
}

// DefaultConfig returns the defaults of the command-line flags.
func DefaultConfig() Config {
	return Config{
		DataDir:                "/var/lib/svcnet",
		BindAddress:            "0.0.0.0",
		SecurePort:             6443,
		ServiceClusterIPRanges: []string{"10.96.0.0/12"},
		ServiceNodePortRange:   "30000-32767",
		ClusterCIDR:            "10.244.0.0/16",
		ClusterDomain:          "cluster.local",
		MaxEndpointsPerSlice:   100,
		ProxyMode:              "nftables",
		ClusterDNS:             "10.96.0.10",
		ProxyMinSyncPeriod:     proxy.DefaultMinSyncPeriod,
	}
}

// Validate checks the configuration before anything starts.
func (c *Config) Validate() error {
	if c.DataDir == "" {
		return fmt.Errorf("--data-dir must not be empty")
	}
	if net.ParseIP(c.BindAddress) == nil {
		return fmt.Errorf("--bind-address %q is not an IP address", c.BindAddress)
	}
	if c.SecurePort < 0 || c.SecurePort > 65535 {
		return fmt.Errorf("--secure-port %d is out of range", c.SecurePort)
	}
	if n := len(c.ServiceClusterIPRanges); n == 0 || n > 2 {
		return fmt.Errorf("--service-cluster-ip-range takes one CIDR, or two of different IP families")
	}
	families := map[bool]bool{}
	for _, r := range c.ServiceClusterIPRanges {
		p, err := netip.ParsePrefix(strings.TrimSpace(r))
		if err != nil {
			return fmt.Errorf("--service-cluster-ip-range %q: %w", r, err)
		}
		if families[p.Addr().Is4()] {
			return fmt.Errorf("--service-cluster-ip-range: two CIDRs of the same IP family")
		}
		families[p.Addr().Is4()] = true
	}
	if _, err := netip.ParsePrefix(c.ClusterCIDR); err != nil {
		return fmt.Errorf("--cluster-cidr %q: %w", c.ClusterCIDR, err)
	}
	if c.ClusterDomain == "" {
		return fmt.Errorf("--cluster-domain must not be empty")
	}
	if _, err := netip.ParseAddr(c.ClusterDNS); err != nil {
		return fmt.Errorf("--cluster-dns %q: %w", c.ClusterDNS, err)
	}
	switch c.ProxyMode {
	case "nftables", "iptables", "userspace":
	default:
		return fmt.Errorf("--proxy-mode %q: must be nftables, iptables or userspace", c.ProxyMode)
	}
	if c.MaxEndpointsPerSlice < 1 || c.MaxEndpointsPerSlice > 1000 {
		return fmt.Errorf("--max-endpoints-per-slice %d must be between 1 and 1000", c.MaxEndpointsPerSlice)
	}
	if c.ProxyMinSyncPeriod < 0 {
		return fmt.Errorf("--proxy-min-sync-period %v must not be negative", c.ProxyMinSyncPeriod)
	}
	for _, d := range c.Disable {
		if i := sort.SearchStrings(componentNames, d); i == len(componentNames) || componentNames[i] != d {
			return fmt.Errorf("--disable: unknown component %q (known: %s)", d, ComponentNames())
		}
	}
	return nil
}

// enabled reports whether component name runs.
func (c *Config) enabled(name string) bool {
	for _, d := range c.Disable {
		if d == name {
			return false
		}
	}
	return true
}

// VersionInfo is what /version reports: the Kubernetes API level svcnet
// implements, so kubectl's version skew checks pass.
func VersionInfo() version.Info {
	return version.Info{
		Major: "1", Minor: "33", GitVersion: "v1.33.0-svcnet", Platform: "linux/amd64",
		GitCommit: "", GitTreeState: "clean", BuildDate: "", GoVersion: "",
		Compiler: "gc",
	}
}

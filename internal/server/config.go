package server

import (
	"fmt"
	"net"
	"net/netip"
	"sort"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/version"

	"github.com/svcnet/svcnet/internal/agent"
	"github.com/svcnet/svcnet/internal/apiserver"
	"github.com/svcnet/svcnet/internal/controller/loadbalancer"
	"github.com/svcnet/svcnet/internal/controller/nodelifecycle"
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
	// EncryptionProviderConfig is kube-apiserver's
	// --encryption-provider-config: an EncryptionConfiguration file saying
	// which resources are encrypted at rest, and how (empty: none).
	EncryptionProviderConfig string
	// EtcdDiskReserve is the free space (bytes) under the embedded etcd's
	// data below which API writes are refused (507) so etcd never hits a
	// full disk; 0: spaceguard.DefaultReserve.
	EtcdDiskReserve uint64
	// EtcdCAFile, EtcdCertFile and EtcdKeyFile secure the connection to
	// the external etcd (kube-apiserver's flags of these names).
	EtcdCAFile, EtcdCertFile, EtcdKeyFile string
	Disable                               []string
	// MaxEndpointsPerSlice bounds the endpoints of one EndpointSlice.
	MaxEndpointsPerSlice int
	// NodeName names this machine's Node (default: the hostname).
	NodeName string
	// ProxyMode is nftables, iptables or userspace; empty picks nftables
	// where it works, else userspace.
	ProxyMode string
	// LoadBalancerIPPools are the address pools of LoadBalancer Services
	// (CIDRs, "first-last" ranges or single addresses).
	LoadBalancerIPPools []string
	// LoadBalancerClass is the loadBalancerClass the built-in controller
	// serves ("" = Services without a class).
	LoadBalancerClass string
	// RefuseExternalIPs makes the proxy ignore spec.externalIPs.
	RefuseExternalIPs bool
	// DenyExternalIPs refuses Services that add spec.externalIPs (403),
	// as kube-apiserver's DenyServiceExternalIPs admission plugin.
	DenyExternalIPs bool
	// KubeletPort and KeepPodsOnExit are NodeConfig's.
	KubeletPort    int
	KeepPodsOnExit bool
	// Runtime selects the agent's container runtime.
	Runtime agent.RuntimeOptions
	// ClusterDNS is the kube-dns ClusterIP written into pods' resolv.conf.
	ClusterDNS string
	// TLSSANs are extra names and addresses for the serving certificate,
	// e.g. of a load balancer in front of several servers.
	TLSSANs []string
	// LeaderElect runs the controllers only while this server holds the
	// kube-system/kube-controller-manager Lease, so several servers on one
	// etcd cluster never run two copies of a controller.
	LeaderElect bool
	// LeaderElectLeaseDuration, LeaderElectRenewDeadline and
	// LeaderElectRetryPeriod are kube-controller-manager's timings.
	LeaderElectLeaseDuration time.Duration
	LeaderElectRenewDeadline time.Duration
	LeaderElectRetryPeriod   time.Duration
	// NodeMonitorGracePeriod, NodeStartupGracePeriod and NodeMonitorPeriod
	// are kube-controller-manager's flags of the same names: how long a
	// Node may go without heartbeats before it is marked Unknown (and one
	// that never reported, before it is), and how often Nodes are checked.
	NodeMonitorGracePeriod time.Duration
	NodeStartupGracePeriod time.Duration
	NodeMonitorPeriod      time.Duration
	// ProxyMinSyncPeriod bounds the proxy's sustained sync rate (0: a
	// sync for every change).
	ProxyMinSyncPeriod time.Duration
	// EventTTL is kube-apiserver's --event-ttl: how long an Event (core/v1
	// and events.k8s.io/v1) is kept after its last write (0: forever).
	EventTTL time.Duration
	// ClusterSigningDuration is kube-controller-manager's
	// --cluster-signing-duration: the longest life of a certificate
	// issued through a CSR (nodes', users').
	ClusterSigningDuration time.Duration
	// ServiceAccountIssuer is the iss claim of ServiceAccount tokens
	// (kube-apiserver's --service-account-issuer; empty:
	// https://kubernetes.default.svc.<cluster domain>).
	ServiceAccountIssuer string
	// APIAudiences are the token audiences the API server accepts
	// (--api-audiences; empty: the issuer).
	APIAudiences []string
	// MaxRequestsInFlight and MaxMutatingRequestsInFlight are
	// kube-apiserver's flags of those names (0: no limit).
	MaxRequestsInFlight, MaxMutatingRequestsInFlight int
	// MaxWatchesPerUser bounds the watches one user holds open (0: none).
	MaxWatchesPerUser int
	// ServiceAccountMaxTokenExpiration caps the lifetime of requested
	// tokens (--service-account-max-token-expiration; 0: no cap).
	ServiceAccountMaxTokenExpiration time.Duration
}

// serviceAccountIssuer returns the configured issuer or its default.
func (c *Config) serviceAccountIssuer() string {
	if c.ServiceAccountIssuer != "" {
		return c.ServiceAccountIssuer
	}
	return "https://kubernetes.default.svc." + strings.Trim(c.ClusterDomain, ".")
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
		ClusterDNS:             "10.96.0.10",

		LeaderElect:              true,
		LeaderElectLeaseDuration: 15 * time.Second,
		LeaderElectRenewDeadline: 10 * time.Second,
		LeaderElectRetryPeriod:   2 * time.Second,
		NodeMonitorGracePeriod:   nodelifecycle.DefaultGracePeriod,
		NodeStartupGracePeriod:   nodelifecycle.DefaultStartupGracePeriod,
		NodeMonitorPeriod:        nodelifecycle.DefaultMonitorPeriod,
		ProxyMinSyncPeriod:       proxy.DefaultMinSyncPeriod,
		EventTTL:                 time.Hour,
		ClusterSigningDuration:   365 * 24 * time.Hour,

		MaxRequestsInFlight:         apiserver.DefaultMaxRequestsInFlight,
		MaxMutatingRequestsInFlight: apiserver.DefaultMaxMutatingRequestsInFlight,
		MaxWatchesPerUser:           apiserver.DefaultMaxWatchesPerUser,
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
	if err := ValidateProxyMode(c.ProxyMode); err != nil {
		return err
	}
	if c.MaxRequestsInFlight < 0 || c.MaxMutatingRequestsInFlight < 0 || c.MaxWatchesPerUser < 0 {
		return fmt.Errorf("--max-requests-inflight, --max-mutating-requests-inflight and --max-watches-per-user must not be negative")
	}
	if m := c.ServiceAccountMaxTokenExpiration; m != 0 && (m < time.Hour || m > (1<<32)*time.Second) {
		return fmt.Errorf("--service-account-max-token-expiration must be between 1 hour and 2^32 seconds")
	}
	if c.MaxEndpointsPerSlice < 1 || c.MaxEndpointsPerSlice > 1000 {
		return fmt.Errorf("--max-endpoints-per-slice %d must be between 1 and 1000", c.MaxEndpointsPerSlice)
	}
	// Checked here too, not only when the controllers start: with leader
	// election a standby builds them only when it takes over.
	if _, err := loadbalancer.ParsePools(c.LoadBalancerIPPools); err != nil {
		return fmt.Errorf("--loadbalancer-ip-pool: %w", err)
	}
	if c.LeaderElect {
		// client-go's own rules, checked here so a bad flag fails at once.
		if c.LeaderElectLeaseDuration <= c.LeaderElectRenewDeadline {
			return fmt.Errorf("--leader-elect-lease-duration must be greater than --leader-elect-renew-deadline")
		}
		if c.LeaderElectRetryPeriod <= 0 || float64(c.LeaderElectRenewDeadline) <= 1.2*float64(c.LeaderElectRetryPeriod) {
			return fmt.Errorf("--leader-elect-renew-deadline must be greater than 1.2 x --leader-elect-retry-period")
		}
	}
	for _, d := range []struct {
		flag string
		v    time.Duration
	}{{"--node-monitor-grace-period", c.NodeMonitorGracePeriod}, {"--node-startup-grace-period", c.NodeStartupGracePeriod},
		{"--node-monitor-period", c.NodeMonitorPeriod}} {
		if d.v <= 0 {
			return fmt.Errorf("%s %v must be positive", d.flag, d.v)
		}
	}
	if c.ProxyMinSyncPeriod < 0 {
		return fmt.Errorf("--proxy-min-sync-period %v must not be negative", c.ProxyMinSyncPeriod)
	}
	if c.ClusterSigningDuration <= 0 {
		return fmt.Errorf("--cluster-signing-duration must be positive")
	}
	if c.EventTTL < 0 {
		return fmt.Errorf("--event-ttl %v must not be negative", c.EventTTL)
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

// ValidateProxyMode checks a --proxy-mode value. ipvs gets its own answer,
// since the seeds and kube-proxy's documentation name it.
func ValidateProxyMode(mode string) error {
	switch mode {
	case "", "nftables", "iptables", "userspace":
		return nil
	case "ipvs":
		return fmt.Errorf("--proxy-mode %q: svcnet has no IPVS mode; nftables (the default) does what kube-proxy's ipvs "+
			"mode was for, matching Services through hash maps instead of linear rule chains", mode)
	}
	return fmt.Errorf("--proxy-mode %q: must be nftables, iptables or userspace", mode)
}

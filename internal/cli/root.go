package cli

import (
	"fmt"
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/svcnet/svcnet/internal/server"
)

// NewRootCommand returns the svcnet command with its subcommands.
func NewRootCommand() *cobra.Command {
	var logLevel string
	root := &cobra.Command{
		Use:           "svcnet",
		Short:         "The Kubernetes Service system in one binary",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			var level slog.Level
			if err := level.UnmarshalText([]byte(logLevel)); err != nil {
				return fmt.Errorf("--log-level: %w", err)
			}
			slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})))
			routeClientLogs(slog.Default())
			return nil
		},
	}
	root.PersistentFlags().StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn, error")
	root.AddCommand(newServerCommand(), newAgentCommand(), newEtcdCommand(), newEtcdSnapshotCommand(), newTokenCommand(), newVersionCommand(), newPodExecCommand(), newAgnhostCommand())
	return root
}

func newServerCommand() *cobra.Command {
	cfg := server.DefaultConfig()
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the API server, etcd, controllers, node agent, proxy and DNS on this machine",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := server.New(cfg)
			if err != nil {
				return err
			}
			return s.Run(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.DataDir, "data-dir", cfg.DataDir, "directory for etcd data, certificates and the admin kubeconfig")
	f.StringVar(&cfg.BindAddress, "bind-address", cfg.BindAddress, "address the API server listens on")
	f.IntVar(&cfg.SecurePort, "secure-port", cfg.SecurePort, "HTTPS port of the API server")
	f.StringSliceVar(&cfg.ServiceClusterIPRanges, "service-cluster-ip-range", cfg.ServiceClusterIPRanges,
		"CIDR(s) for Service ClusterIPs: one, or an IPv4 and an IPv6 one for dual-stack")
	f.StringVar(&cfg.ServiceNodePortRange, "service-node-port-range", cfg.ServiceNodePortRange, "port range for NodePort Services")
	f.StringVar(&cfg.ClusterCIDR, "cluster-cidr", cfg.ClusterCIDR, "CIDR for pod IPs, split into per-node ranges")
	f.StringVar(&cfg.ClusterDomain, "cluster-domain", cfg.ClusterDomain, "DNS domain of the cluster")
	f.StringSliceVar(&cfg.EtcdServers, "etcd-servers", cfg.EtcdServers, "external etcd endpoints; empty runs etcd embedded in the data dir")
	f.StringVar(&cfg.EncryptionProviderConfig, "encryption-provider-config", "",
		"EncryptionConfiguration file (kube-apiserver's format): resources encrypted at rest in etcd, and the cluster's keys with Secrets")
	f.StringVar(&cfg.EtcdCAFile, "etcd-cafile", "", "CA bundle that verifies the --etcd-servers members (https)")
	f.StringVar(&cfg.EtcdCertFile, "etcd-certfile", "", "client certificate presented to the --etcd-servers members")
	f.StringVar(&cfg.EtcdKeyFile, "etcd-keyfile", "", "key of --etcd-certfile")
	f.StringSliceVar(&cfg.Disable, "disable", cfg.Disable, "components not to run: "+server.ComponentNames())
	f.StringVar(&cfg.NodeName, "node-name", cfg.NodeName, "name of this machine's Node (default: the hostname)")
	f.IntVar(&cfg.KubeletPort, "kubelet-port", 0, "port of the node agent's kubelet API on the node IP (0: 10250, negative: none)")
	f.BoolVar(&cfg.KeepPodsOnExit, "keep-pods-on-exit", false,
		"leave pod processes running when svcnet stops, for the next start to re-adopt (a crash always leaves them)")
	addRuntimeFlags(f, &cfg.Runtime)
	f.StringVar(&cfg.ProxyMode, "proxy-mode", cfg.ProxyMode, proxyModeHelp)
	f.DurationVar(&cfg.ProxyMinSyncPeriod, "proxy-min-sync-period", cfg.ProxyMinSyncPeriod,
		"minimum interval between proxy rule syncs under churn (a lone change is programmed at once; 0 syncs on every change)")
	f.DurationVar(&cfg.ClusterSigningDuration, "cluster-signing-duration", cfg.ClusterSigningDuration,
		"longest life of a certificate issued through a CertificateSigningRequest (nodes', users')")
	f.DurationVar(&cfg.EventTTL, "event-ttl", cfg.EventTTL,
		"how long Events are kept after their last write (0: forever)")
	f.IntVar(&cfg.MaxRequestsInFlight, "max-requests-inflight", cfg.MaxRequestsInFlight,
		"read-only requests served at once before the API server answers 429 (0: no limit; watches and streams not counted)")
	f.IntVar(&cfg.MaxMutatingRequestsInFlight, "max-mutating-requests-inflight", cfg.MaxMutatingRequestsInFlight,
		"mutating requests served at once before the API server answers 429 (0: no limit)")
	f.IntVar(&cfg.MaxWatchesPerUser, "max-watches-per-user", cfg.MaxWatchesPerUser,
		"watches one user may hold open before the API server answers 429 (0: no limit; system:masters exempt)")
	f.StringVar(&cfg.ServiceAccountIssuer, "service-account-issuer", cfg.ServiceAccountIssuer,
		"iss claim of ServiceAccount tokens (default: https://kubernetes.default.svc.<cluster-domain>)")
	f.StringSliceVar(&cfg.APIAudiences, "api-audiences", cfg.APIAudiences,
		"audiences of tokens the API server accepts, and of requested tokens that name none (default: the issuer)")
	f.DurationVar(&cfg.ServiceAccountMaxTokenExpiration, "service-account-max-token-expiration", cfg.ServiceAccountMaxTokenExpiration,
		"maximum lifetime of a requested ServiceAccount token (0: no maximum)")
	f.StringVar(&cfg.ClusterDNS, "cluster-dns", cfg.ClusterDNS, "ClusterIP of the kube-dns Service, written into pods' resolv.conf")
	f.BoolVar(&cfg.DenyExternalIPs, "deny-external-ips", cfg.DenyExternalIPs,
		"refuse Services that add spec.externalIPs with 403 (kube-apiserver's DenyServiceExternalIPs admission; CVE-2020-8554)")
	f.BoolVar(&cfg.RefuseExternalIPs, "refuse-external-ips", cfg.RefuseExternalIPs,
		"ignore spec.externalIPs of Services (guards against CVE-2020-8554)")
	f.StringSliceVar(&cfg.LoadBalancerIPPools, "loadbalancer-ip-pool", cfg.LoadBalancerIPPools,
		"addresses for LoadBalancer Services: CIDRs, first-last ranges or single IPs (repeatable)")
	f.StringVar(&cfg.LoadBalancerClass, "loadbalancer-class", cfg.LoadBalancerClass,
		"loadBalancerClass served by the built-in controller (empty: Services without a class)")
	f.IntVar(&cfg.MaxEndpointsPerSlice, "max-endpoints-per-slice", cfg.MaxEndpointsPerSlice,
		"maximum number of endpoints in one EndpointSlice (1-1000)")
	f.DurationVar(&cfg.NodeMonitorGracePeriod, "node-monitor-grace-period", cfg.NodeMonitorGracePeriod,
		"how long a Node may go without heartbeats before it is marked Unknown, tainted and its pods leave endpoints "+
			"(must be several times the agents' 10s heartbeat)")
	f.DurationVar(&cfg.NodeStartupGracePeriod, "node-startup-grace-period", cfg.NodeStartupGracePeriod,
		"how long a Node that never posted its status may stay silent before it is marked Unknown")
	f.DurationVar(&cfg.NodeMonitorPeriod, "node-monitor-period", cfg.NodeMonitorPeriod,
		"how often the node lifecycle controller checks Nodes' heartbeats")
	f.StringVar(&cfg.AdvertiseAddress, "advertise-address", cfg.AdvertiseAddress,
		"address published in the kubernetes Endpoints (default: the bind address, or this host's first address)")
	f.StringSliceVar(&cfg.TLSSANs, "tls-san", cfg.TLSSANs,
		"extra DNS names or IP addresses for the serving certificate (e.g. of a load balancer in front of several servers)")
	f.BoolVar(&cfg.LeaderElect, "leader-elect", cfg.LeaderElect,
		"run the controllers only while holding the kube-system/kube-controller-manager Lease (needed when several servers share etcd)")
	f.DurationVar(&cfg.LeaderElectLeaseDuration, "leader-elect-lease-duration", cfg.LeaderElectLeaseDuration,
		"how long a standby server waits after the leader's last renewal before taking over")
	f.DurationVar(&cfg.LeaderElectRenewDeadline, "leader-elect-renew-deadline", cfg.LeaderElectRenewDeadline,
		"how long the leader keeps retrying to renew before it stops its controllers")
	f.DurationVar(&cfg.LeaderElectRetryPeriod, "leader-elect-retry-period", cfg.LeaderElectRetryPeriod,
		"interval between attempts to acquire or renew the lease")
	return cmd
}

const proxyModeHelp = "service proxy mode: nftables, iptables or userspace (default: nftables where the nft " +
	"binary and CAP_NET_ADMIN are available, else userspace)"

func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			v := server.VersionInfo()
			fmt.Fprintf(cmd.OutOrStdout(), "svcnet %s (Kubernetes API %s)\n", v.GitVersion, v.GitVersion)
		},
	}
}

package cli

import (
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/svcnet/svcnet/internal/etcd"
)

// newEtcdCommand runs one embedded etcd member: with --initial-cluster,
// one member of a multi-member cluster that several `svcnet server
// --etcd-servers` share, so no etcd package is needed besides svcnet.
func newEtcdCommand() *cobra.Command {
	cfg := etcd.Config{DataDir: "/var/lib/svcnet-etcd", Name: "default"}
	cmd := &cobra.Command{
		Use:   "etcd",
		Short: "Run one etcd member (of a cluster that several servers share with --etcd-servers)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg.Logger = slog.Default()
			e, err := etcd.New(cfg)
			if err != nil {
				return err
			}
			return e.Run(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Name, "name", cfg.Name, "member name, as in --initial-cluster")
	f.StringVar(&cfg.DataDir, "data-dir", cfg.DataDir, "directory of the member's WAL and database")
	f.StringSliceVar(&cfg.ListenClientURLs, "listen-client-urls", nil, "URLs to serve clients on (default: unix socket client.sock in --data-dir, which only its owner can open)")
	f.StringSliceVar(&cfg.AdvertiseClientURLs, "advertise-client-urls", nil, "client URLs told to the cluster (default: --listen-client-urls)")
	f.StringSliceVar(&cfg.ListenPeerURLs, "listen-peer-urls", nil, "URLs to serve the other members on")
	f.StringSliceVar(&cfg.AdvertisePeerURLs, "initial-advertise-peer-urls", nil, "peer URLs told to the cluster (default: --listen-peer-urls)")
	f.StringVar(&cfg.InitialCluster, "initial-cluster", "", "every member at bootstrap: name=peerURL,... (default: this member alone)")
	f.StringVar(&cfg.InitialClusterState, "initial-cluster-state", "new", "new, or existing to join a running cluster")
	f.StringVar(&cfg.InitialClusterToken, "initial-cluster-token", "", "token distinguishing clusters bootstrapped from the same member list")
	f.StringVar(&cfg.ClientTLS.CertFile, "cert-file", "", "certificate for https client URLs")
	f.StringVar(&cfg.ClientTLS.KeyFile, "key-file", "", "key of --cert-file")
	f.StringVar(&cfg.ClientTLS.CAFile, "trusted-ca-file", "", "CA that client certificates must chain to")
	f.BoolVar(&cfg.ClientTLS.ClientCertAuth, "client-cert-auth", false, "require a client certificate signed by --trusted-ca-file")
	f.StringVar(&cfg.PeerTLS.CertFile, "peer-cert-file", "", "certificate for https peer URLs (also presented to other members)")
	f.StringVar(&cfg.PeerTLS.KeyFile, "peer-key-file", "", "key of --peer-cert-file")
	f.StringVar(&cfg.PeerTLS.CAFile, "peer-trusted-ca-file", "", "CA that peer certificates must chain to")
	f.BoolVar(&cfg.PeerTLS.ClientCertAuth, "peer-client-cert-auth", false, "require peers to present a certificate signed by --peer-trusted-ca-file")
	f.DurationVar(&cfg.CompactionRetention, "auto-compaction-retention", etcd.DefaultCompactionRetention,
		"revisions older than this are compacted away (negative: never)")
	return cmd
}

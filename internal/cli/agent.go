package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/svcnet/svcnet/internal/agent/kubeletapi"
	"github.com/svcnet/svcnet/internal/join"
	"github.com/svcnet/svcnet/internal/join/nodecert"
	"github.com/svcnet/svcnet/internal/server"
)

// agentOptions are the flags of `svcnet agent`.
type agentOptions struct {
	server, token, tokenFile, nodeIP string
	// kubeconfig, instead of server and token, points the node
	// components at any Kubernetes API server (drop-in mode).
	kubeconfig string
	node       server.NodeConfig
}

func newAgentCommand() *cobra.Command {
	defaults := server.DefaultConfig()
	o := agentOptions{node: server.NodeConfig{DataDir: "/var/lib/svcnet-agent", ClusterCIDR: defaults.ClusterCIDR,
		ServiceCIDRs: defaults.ServiceClusterIPRanges, ClusterDomain: defaults.ClusterDomain, ClusterDNS: defaults.ClusterDNS,
		ProxyMode: defaults.ProxyMode, ProxyMinSyncPeriod: defaults.ProxyMinSyncPeriod}}
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Join a svcnet server as a node: run the node agent, service proxy and DNS on this machine",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runAgent(cmd, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.server, "server", "", "URL of the svcnet server (https://IP:6443)")
	f.StringVar(&o.token, "token", "", "join token printed by `svcnet server` (K10<ca-hash>::server:<secret>); "+
		"visible to every local user in the process list: prefer --token-file")
	f.StringVar(&o.tokenFile, "token-file", "", "file holding the join token (the server's <data-dir>/pki/token)")
	f.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig of any Kubernetes API server, instead of --server and --token: "+
		"with --disable agent the proxy, DNS and LoadBalancer announcer replace kube-proxy, CoreDNS and a layer-2 load balancer "+
		"on a node whose kubelet registered it")
	f.StringVar(&o.node.NodeName, "node-name", "", "name of this Node (default: the hostname)")
	f.StringVar(&o.node.NodeName, "hostname-override", "", "kube-proxy's name for --node-name")
	f.StringVar(&o.nodeIP, "node-ip", "", "InternalIP of this Node (required, except with --kubeconfig, "+
		"where the Node's InternalIP is read from the API)")
	f.StringVar(&o.node.DataDir, "data-dir", o.node.DataDir, "directory for pod state and logs")
	f.StringVar(&o.node.ClusterCIDR, "cluster-cidr", o.node.ClusterCIDR, "the server's --cluster-cidr")
	f.StringSliceVar(&o.node.ServiceCIDRs, "service-cluster-ip-range", o.node.ServiceCIDRs, "the server's --service-cluster-ip-range")
	f.StringVar(&o.node.ClusterDomain, "cluster-domain", o.node.ClusterDomain, "DNS domain of the cluster")
	f.StringVar(&o.node.ClusterDNS, "cluster-dns", o.node.ClusterDNS, "ClusterIP of the kube-dns Service")
	f.StringVar(&o.node.ProxyMode, "proxy-mode", o.node.ProxyMode, proxyModeHelp)
	f.DurationVar(&o.node.ProxyMinSyncPeriod, "proxy-min-sync-period", o.node.ProxyMinSyncPeriod,
		"minimum interval between proxy rule syncs under churn (a lone change is programmed at once; 0 syncs on every change)")
	f.BoolVar(&o.node.RefuseExternalIPs, "refuse-external-ips", false, "ignore spec.externalIPs of Services (CVE-2020-8554)")
	f.StringSliceVar(&o.node.Disable, "disable", nil, "node components not to run: agent, dns, proxy")
	f.IntVar(&o.node.KubeletPort, "kubelet-port", 0, "port of the kubelet API on --node-ip (0: 10250, negative: none)")
	f.BoolVar(&o.node.KeepPodsOnExit, "keep-pods-on-exit", false,
		"leave pod processes running when the agent stops, for the next start to re-adopt (a crash always leaves them)")
	addRuntimeFlags(f, &o.node.Runtime)
	return cmd
}

// backoff bounds the waits between attempts to reach the server.
type backoff struct{ first, max time.Duration }

// Waits between join attempts: a rebooted machine often starts its agent
// before its network or its server is back; kubelet keeps trying too.
const (
	joinRetryFirst = time.Second
	joinRetryMax   = 30 * time.Second
)

// joinCluster fetches and checks the server's CA, retrying with growing
// waits while the server cannot be reached at all (connection refused, no
// route, timeouts). A server that answers wrongly, or whose CA does not
// match the token, ends it at once.
func joinCluster(ctx context.Context, server, token string, b backoff, log *slog.Logger) (*rest.Config, error) {
	delay := b.first
	for {
		cfg, err := join.RESTConfig(ctx, server, token)
		var unreachable *url.Error
		if err == nil || !errors.As(err, &unreachable) || ctx.Err() != nil {
			return cfg, err
		}
		log.Warn("Retrying to join: server unreachable", "server", server, "retryIn", delay, "err", err)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(delay):
		}
		delay = min(2*delay, b.max)
	}
}

// joinToken returns the join token of --token or --token-file.
func (o *agentOptions) joinToken() (string, error) {
	switch {
	case o.token != "" && o.tokenFile != "":
		return "", fmt.Errorf("--token and --token-file are mutually exclusive")
	case o.token != "":
		return o.token, nil
	case o.tokenFile == "":
		return "", fmt.Errorf("--token-file (or --token) is required")
	}
	data, err := os.ReadFile(o.tokenFile)
	if err != nil {
		return "", fmt.Errorf("--token-file: %w", err)
	}
	tok := strings.TrimSpace(string(data))
	if tok == "" {
		return "", fmt.Errorf("--token-file %s is empty", o.tokenFile)
	}
	return tok, nil
}

func runAgent(cmd *cobra.Command, o agentOptions) error {
	if err := server.ValidateProxyMode(o.node.ProxyMode); err != nil {
		return err
	}
	for _, d := range o.node.Disable {
		if d != "agent" && d != "dns" && d != "proxy" {
			return fmt.Errorf("--disable: unknown component %q (known: agent, dns, proxy)", d)
		}
	}
	if o.node.NodeName == "" {
		var err error
		if o.node.NodeName, err = os.Hostname(); err != nil {
			return err
		}
	}
	o.node.NodeName = strings.ToLower(o.node.NodeName)
	ctx := cmd.Context()
	restCfg, err := o.restConfig(ctx)
	if err != nil {
		return err
	}
	g, ctx := errgroup.WithContext(ctx)
	var creds *nodecert.Credentials
	if o.kubeconfig == "" {
		// The join token only bootstraps: the node works with a client
		// certificate of its own, and serves the kubelet API with one.
		ip, err := netip.ParseAddr(o.nodeIP)
		if err != nil {
			return fmt.Errorf("--node-ip %q: %w", o.nodeIP, err)
		}
		creds, err = nodecert.New(nodecert.Config{Bootstrap: restCfg, NodeName: o.node.NodeName, NodeIP: ip,
			Dir: filepath.Join(o.node.DataDir, "pki"), Logger: slog.Default().With("component", "node-certificates")})
		if err != nil {
			return err
		}
		if restCfg, err = creds.Client(ctx); err != nil {
			return err
		}
		selfSigned, err := kubeletapi.SelfSignedCert([]string{ip.String(), o.node.NodeName}, time.Now())
		if err != nil {
			return err
		}
		o.node.KubeletCertificate = creds.ServingCertificate(selfSigned)
	}
	client, err := kubernetes.NewForConfig(restCfg)
	if err != nil {
		return err
	}
	if o.nodeIP == "" && o.kubeconfig != "" {
		if o.nodeIP, err = nodeInternalIP(ctx, client, o.node.NodeName); err != nil {
			return err
		}
	}
	ip, err := netip.ParseAddr(o.nodeIP)
	if err != nil {
		return fmt.Errorf("--node-ip %q: %w", o.nodeIP, err)
	}
	o.node.NodeIP = ip
	if err := server.StartNode(ctx, g, client, o.node, nil, slog.Default()); err != nil {
		return err
	}
	if creds != nil {
		g.Go(func() error { return creds.Run(ctx) })
	}
	slog.Info("Joined cluster", "server", restCfg.Host, "node", o.node.NodeName)
	return g.Wait()
}

// restConfig is the client configuration of --kubeconfig, or else the one
// joining with --server and the join token yields.
func (o *agentOptions) restConfig(ctx context.Context) (*rest.Config, error) {
	if o.kubeconfig != "" {
		if o.server != "" || o.token != "" || o.tokenFile != "" {
			return nil, fmt.Errorf("--kubeconfig excludes --server, --token and --token-file")
		}
		cfg, err := clientcmd.BuildConfigFromFlags("", o.kubeconfig)
		if err != nil {
			return nil, fmt.Errorf("--kubeconfig: %w", err)
		}
		return cfg, nil
	}
	token, err := o.joinToken()
	if err != nil {
		return nil, err
	}
	if o.server == "" {
		return nil, fmt.Errorf("--server is required (or --kubeconfig)")
	}
	return joinCluster(ctx, o.server, token, backoff{joinRetryFirst, joinRetryMax}, slog.Default())
}

// nodeInternalIP reads the InternalIP of Node name, which its kubelet
// registered, waiting for the Node to appear.
func nodeInternalIP(ctx context.Context, client kubernetes.Interface, name string) (string, error) {
	var ip string
	err := wait.PollUntilContextTimeout(ctx, time.Second, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		n, err := client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		for _, a := range n.Status.Addresses {
			if a.Type == corev1.NodeInternalIP {
				ip = a.Address
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		return "", fmt.Errorf("no --node-ip, and Node %s has no InternalIP: %w", name, err)
	}
	return ip, nil
}

package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/sync/errgroup"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"

	"github.com/svcnet/svcnet/internal/agent"
	"github.com/svcnet/svcnet/internal/agent/kubeletapi"
	"github.com/svcnet/svcnet/internal/announce"
	"github.com/svcnet/svcnet/internal/apiserver/nodeproxy"
	"github.com/svcnet/svcnet/internal/controller/loadbalancer"
	"github.com/svcnet/svcnet/internal/dns"
	"github.com/svcnet/svcnet/internal/proxy"
	"github.com/svcnet/svcnet/internal/proxy/conntrack"
	"github.com/svcnet/svcnet/internal/proxy/modes"
)

// NodeConfig configures the per-node components: agent, proxy and DNS.
// `svcnet server` runs them for its own machine, `svcnet agent` on a
// joining one.
type NodeConfig struct {
	NodeName string
	// NodeIP is the node's InternalIP: pods' hostIP, the address DNS
	// listens on and the kube-dns endpoint of this node.
	NodeIP        netip.Addr
	DataDir       string
	ClusterCIDR   string
	ServiceCIDRs  []string
	ClusterDomain string
	ClusterDNS    string
	ProxyMode     string
	// RefuseExternalIPs makes the proxy ignore spec.externalIPs
	// (CVE-2020-8554).
	RefuseExternalIPs bool
	// ProxyMinSyncPeriod bounds the proxy's sustained sync rate; 0 syncs
	// for every change (DefaultConfig has kube-proxy's 1s).
	ProxyMinSyncPeriod time.Duration
	// Disable lists the node components not to run.
	Disable []string
	// KubeletPort is where the agent serves logs, exec and port-forward
	// to the API server on NodeIP: 0 means kubelet's 10250, negative none.
	KubeletPort int
	// KubeletCertificate, when set, gives the kubelet API's serving
	// certificate (signed by the cluster CA, which API servers verify);
	// else it is self-signed.
	KubeletCertificate func(*tls.ClientHelloInfo) (*tls.Certificate, error)
	// KeepPodsOnExit leaves pods running when the node stops, for the
	// next start to re-adopt (agent.Config.KeepPodsOnExit).
	KeepPodsOnExit bool
	// Runtime selects the agent's container runtime.
	Runtime agent.RuntimeOptions
}

func (c *NodeConfig) enabled(name string) bool {
	for _, d := range c.Disable {
		if d == name {
			return false
		}
	}
	return true
}

// StartNode builds the enabled node components on one informer factory,
// starts it and runs them under g.
// The agent's log handler is registered in nodes when nodes is non-nil.
func StartNode(ctx context.Context, g *errgroup.Group, client kubernetes.Interface, cfg NodeConfig, nodes *nodeproxy.Nodes,
	logger *slog.Logger) error {
	factory := informers.NewSharedInformerFactory(client, 0)
	var all []runnable
	if cfg.enabled("agent") {
		dir := filepath.Join(cfg.DataDir, "agent")
		// Pod network namespaces live under the data dir, so two agents on
		// one machine (tests, several nodes in namespaces) never see, or
		// clean up, each other's pods.
		kubeletLog := logger.With("component", "kubelet-api")
		ln, cas := listenKubelet(ctx, client, cfg, kubeletLog)
		var port int32
		if ln != nil {
			port = int32(ln.Addr().(*net.TCPAddr).Port)
		}
		a, err := agent.New(agent.Config{Client: client, Informers: factory, NodeName: cfg.NodeName,
			NodeIP: cfg.NodeIP.String(), DataDir: dir, NetnsDir: filepath.Join(dir, "netns"), ClusterDNS: cfg.ClusterDNS,
			ClusterDomain: cfg.ClusterDomain, ClusterCIDR: cfg.ClusterCIDR, KubeletPort: port,
			KeepPodsOnExit: cfg.KeepPodsOnExit, Runtime: cfg.Runtime, Logger: logger.With("component", "agent")})
		if err != nil {
			if ln != nil {
				ln.Close()
			}
			return err
		}
		all = append(all, a)
		if ln != nil {
			k, err := kubeletapi.New(kubeletapi.Config{Listener: ln, Hosts: []string{cfg.NodeIP.String(), cfg.NodeName},
				GetCertificate: cfg.KubeletCertificate,
				ClientCAs:      cas, Logs: a.LogsHandler(), Exec: a.ExecHandler(), Attach: a.AttachHandler(),
				PortForward: a.PortForwardHandler(), Pods: a.PodsHandler(), LogDir: a.LogDir(), Logger: kubeletLog})
			if err != nil {
				ln.Close()
				return err
			}
			all = append(all, k)
		}
		if nodes != nil {
			nodes.RegisterLogs(cfg.NodeName, a.LogsHandler())
			nodes.RegisterExec(cfg.NodeName, a.ExecHandler())
			nodes.RegisterAttach(cfg.NodeName, a.AttachHandler())
			nodes.RegisterPortForward(cfg.NodeName, a.PortForwardHandler())
			nodes.RegisterKubelet(cfg.NodeName, kubeletapi.Routes(kubeletapi.Config{Logs: a.LogsHandler(),
				Exec: a.ExecHandler(), Attach: a.AttachHandler(), PortForward: a.PortForwardHandler(),
				Pods: a.PodsHandler(), LogDir: a.LogDir()}))
		}
	}
	if cfg.enabled("proxy") {
		minSync := cfg.ProxyMinSyncPeriod
		if minSync == 0 {
			minSync = -1 // proxy.Config reads 0 as its default
		}
		cfgProxy := proxy.Config{Client: client, Informers: factory, NodeName: cfg.NodeName, Mode: cfg.ProxyMode,
			Backends: modes.Backends(), ClusterCIDR: cfg.ClusterCIDR, ServiceCIDRs: cfg.ServiceCIDRs,
			RefuseExternalIPs: cfg.RefuseExternalIPs, HealthzBindAddress: proxy.DefaultHealthzBindAddress, HealthCheckNodePorts: true, Logger: logger.With("component", "proxy"),
			MinSyncPeriod: minSync, MetricsBindAddress: proxy.DefaultMetricsBindAddress,
			Registerer: proxy.NewProcessRegistry()}
		if ct, err := conntrack.New(conntrack.Config{Logger: logger.With("component", "conntrack")}); err == nil {
			cfgProxy.Conntrack = ct
		} else {
			logger.Warn("Kept stale UDP conntrack entries: no conntrack tool", "err", err)
		}
		p, err := proxy.New(cfgProxy)
		if err != nil {
			return fmt.Errorf("proxy (--proxy-mode=%q): %w", cfg.ProxyMode, err)
		}
		all = append(all, p)
		// The proxy translates LB IP traffic on every node; the elected
		// node also answers ARP for the IP so the node network finds it.
		// Only the pools' ConfigMap, not every ConfigMap of the cluster.
		poolFactory := informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithNamespace(loadbalancer.PoolsNamespace),
			informers.WithTweakListOptions(func(o *metav1.ListOptions) {
				o.FieldSelector = fields.OneTermEqualSelector("metadata.name", loadbalancer.PoolsConfigMap).String()
			}))
		ann, err := announce.New(announce.Config{Informers: factory, Pools: poolFactory.Core().V1().ConfigMaps(),
			NodeName: cfg.NodeName, Logger: logger.With("component", "announce")})
		if err != nil {
			return err
		}
		poolFactory.Start(ctx.Done())
		all = append(all, ann)
	}
	if cfg.enabled("dns") {
		clients, err := newDNSClients(factory, cfg.ClusterCIDR, cfg.NodeIP)
		if err != nil {
			return fmt.Errorf("dns: %w", err)
		}
		d, err := dns.New(dns.Config{Client: client, Informers: factory, Domain: cfg.ClusterDomain, AllowClient: clients.Allow,
			Listen: []string{net.JoinHostPort(cfg.NodeIP.String(), "53")},
			// CoreDNS's metrics port; /metrics, /health and /ready share it.
			MetricsAddr: net.JoinHostPort(cfg.NodeIP.String(), "9153"), HealthAddr: net.JoinHostPort(cfg.NodeIP.String(), "9153"),
			Logger: logger.With("component", "dns"), Registry: proxy.NewProcessRegistry()})
		if err != nil {
			return fmt.Errorf("dns: %w", err)
		}
		all = append(all, d)
		g.Go(func() error { return publishDNSEndpoint(ctx, client, cfg, logger) })
	}
	factory.Start(ctx.Done())
	for _, c := range all {
		g.Go(func() error { return c.Run(ctx) })
	}
	return nil
}

// listenKubelet binds the agent's kubelet API port on the node IP and
// reads the cluster CA (the API server's /cacerts, over the already
// verified client connection) that its clients must chain to. The node
// still runs without it, serving its pods only to an API server in this
// process: it returns nil after logging why.
func listenKubelet(ctx context.Context, client kubernetes.Interface, cfg NodeConfig,
	logger *slog.Logger) (net.Listener, *x509.CertPool) {
	if cfg.KubeletPort < 0 || !cfg.NodeIP.IsValid() {
		return nil, nil
	}
	port := cfg.KubeletPort
	if port == 0 {
		port = kubeletapi.DefaultPort
	}
	rc := client.Discovery().RESTClient()
	if rc == nil {
		logger.Warn("Skipped kubelet API server: no REST client to read the cluster CA")
		return nil, nil
	}
	caPEM, err := rc.Get().AbsPath("/cacerts").DoRaw(ctx)
	if err != nil {
		logger.Warn("Skipped kubelet API server: reading the cluster CA failed", "err", err)
		return nil, nil
	}
	cas := x509.NewCertPool()
	if !cas.AppendCertsFromPEM(caPEM) {
		logger.Warn("Skipped kubelet API server: /cacerts holds no certificate")
		return nil, nil
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(cfg.NodeIP.String(), strconv.Itoa(port)))
	if err != nil {
		logger.Warn("Skipped kubelet API server: listening failed; pods of this node have no logs, exec or port-forward "+
			"through API servers of other processes", "err", err)
		return nil, nil
	}
	return ln, cas
}

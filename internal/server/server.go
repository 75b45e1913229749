package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/svcnet/svcnet/internal/apiserver/nodeproxy"
	"github.com/svcnet/svcnet/internal/pki"
	"github.com/svcnet/svcnet/internal/registry"
	"github.com/svcnet/svcnet/internal/storage/encryption"
)

// Server is a running `svcnet server`.
type Server struct {
	cfg       Config
	pki       *pki.PKI
	resources []registry.Resource
	// access decides who may do what (authorizers, admission).
	access *access
	// cacheSynced reports whether the LIST caches have their first list.
	cacheSynced func() bool
	// encryption encrypts Secrets (and what the configuration names) at
	// rest; nil without --encryption-provider-config.
	encryption *encryption.Transformer
	// nodes reaches the agents of this process for pods/log.
	nodes      nodeproxy.Nodes
	logger     *slog.Logger
	ready      chan struct{}
	readyOnce  sync.Once
	kubeconfig string
	url        string
}

// New validates cfg and returns a server ready to Run.
func New(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Server{cfg: cfg, logger: slog.Default(), ready: make(chan struct{}),
		kubeconfig: filepath.Join(cfg.DataDir, "kubeconfig.yaml")}, nil
}

// Ready is closed once the API server answers and the admin kubeconfig
// is written.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// KubeconfigPath is the admin kubeconfig written at start.
func (s *Server) KubeconfigPath() string { return s.kubeconfig }

// JoinToken is the token agents join with (known once Ready).
func (s *Server) JoinToken() string { return s.pki.Token() }

// URL is the API server's URL (known once Ready).
func (s *Server) URL() string { return s.url }

// Run starts every component and blocks until ctx is done or one fails.
func (s *Server) Run(ctx context.Context) error {
	if err := os.MkdirAll(s.cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	g, ctx := errgroup.WithContext(ctx)

	store, etcdClient, closeStore, err := s.startStorage(ctx, g)
	if err != nil {
		return err
	}
	defer closeStore()

	ln, err := net.Listen("tcp", net.JoinHostPort(s.cfg.BindAddress, strconv.Itoa(s.cfg.SecurePort)))
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	advertise, err := s.advertiseAddress()
	if err != nil {
		ln.Close()
		return err
	}
	api, restCfg, err := s.buildAPIServer(ctx, g, store, etcdClient, ln, advertise, port)
	if err != nil {
		ln.Close()
		return err
	}
	g.Go(func() error { return api.Run(ctx) })

	client, err := kubernetes.NewForConfig(restCfg)
	if err != nil {
		return err
	}
	meta, err := metadata.NewForConfig(restCfg)
	if err != nil {
		return err
	}
	s.access.start(ctx)
	if err := s.waitHealthy(ctx, client); err != nil {
		return err
	}
	if err := s.startControlPlane(ctx, g, client, meta, etcdClient, advertise, port); err != nil {
		return err
	}
	nodeCfg := s.nodeConfig(advertise)
	// This server holds the CA: its own node's kubelet API gets its
	// serving certificate directly, as agents get theirs through a CSR.
	kubeletCert, err := s.pki.IssueKubeletServingCert(nodeCfg.NodeName, []string{advertise.String(), nodeCfg.NodeName})
	if err != nil {
		return err
	}
	nodeCfg.KubeletCertificate = func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &kubeletCert, nil }
	if err := StartNode(ctx, g, client, nodeCfg, &s.nodes, s.logger); err != nil {
		return err
	}
	s.readyOnce.Do(func() { close(s.ready) })
	fmt.Fprintf(os.Stdout, "svcnet server is running at %s\nexport KUBECONFIG=%s\n", s.url, s.kubeconfig)
	fmt.Fprintf(os.Stdout, "join more nodes with: svcnet agent --server https://%s --token %s --node-ip <IP>\n",
		net.JoinHostPort(advertise.String(), strconv.Itoa(port)), s.pki.Token())
	return g.Wait()
}

// advertiseAddress is the address published in the kubernetes Endpoints.
func (s *Server) advertiseAddress() (netip.Addr, error) {
	if s.cfg.AdvertiseAddress != "" {
		a, err := netip.ParseAddr(s.cfg.AdvertiseAddress)
		if err != nil {
			return netip.Addr{}, fmt.Errorf("--advertise-address: %w", err)
		}
		return a, nil
	}
	if a, err := netip.ParseAddr(s.cfg.BindAddress); err == nil && !a.IsUnspecified() {
		return a, nil
	}
	addrs, err := net.InterfaceAddrs()
	if err == nil {
		for _, a := range addrs {
			if p, err := netip.ParsePrefix(a.String()); err == nil && p.Addr().IsGlobalUnicast() && p.Addr().Is4() {
				return p.Addr(), nil
			}
		}
	}
	return netip.MustParseAddr("127.0.0.1"), nil
}

// nodeConfig is the configuration of this machine's node components.
func (s *Server) nodeConfig(nodeIP netip.Addr) NodeConfig {
	return NodeConfig{NodeName: s.nodeName(), NodeIP: nodeIP, DataDir: s.cfg.DataDir,
		ClusterCIDR: s.cfg.ClusterCIDR, ServiceCIDRs: s.cfg.ServiceClusterIPRanges, ClusterDomain: s.cfg.ClusterDomain,
		ClusterDNS: s.cfg.ClusterDNS, ProxyMode: s.cfg.ProxyMode, RefuseExternalIPs: s.cfg.RefuseExternalIPs, Disable: s.cfg.Disable,
		KubeletPort: s.cfg.KubeletPort, KeepPodsOnExit: s.cfg.KeepPodsOnExit, Runtime: s.cfg.Runtime, ProxyMinSyncPeriod: s.cfg.ProxyMinSyncPeriod}
}

// nodeName names this machine's Node: --node-name or the hostname.
func (s *Server) nodeName() string {
	name := s.cfg.NodeName
	if name == "" {
		name, _ = os.Hostname()
	}
	return strings.ToLower(name)
}

// waitHealthy polls /readyz through the loopback client.
func (s *Server) waitHealthy(ctx context.Context, client kubernetes.Interface) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		// /livez: /readyz also waits for the default RBAC roles, which
		// this server creates once the API answers.
		body, err := client.Discovery().RESTClient().Get().AbsPath("/livez").DoRaw(ctx)
		if err == nil && string(body) == "ok" {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("API server not healthy after 30s: %v", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// readyz is /readyz: the LIST caches have synced, and authorization can
// decide.
func (s *Server) readyz() error {
	if s.cacheSynced != nil && !s.cacheSynced() {
		return errors.New("storage caches not synced")
	}
	return s.access.ready()
}

// loopbackConfig is the admin client configuration of this server.
func (s *Server) loopbackConfig() (*rest.Config, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", s.kubeconfig)
	if err != nil {
		return nil, err
	}
	cfg.QPS, cfg.Burst = 500, 1000
	cfg.UserAgent = "svcnet-server"
	return cfg, nil
}

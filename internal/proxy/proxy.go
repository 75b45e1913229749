package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	v1 "k8s.io/api/core/v1"
	discovery "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/svcnet/svcnet/internal/proxy/healthcheck"
)

// Tuning defaults, matching kube-proxy's.
const (
	// DefaultMinSyncPeriod bounds how often rules are rewritten under churn.
	DefaultMinSyncPeriod = time.Second
	// DefaultSyncPeriod is the full-resync period repairing any drift.
	DefaultSyncPeriod = time.Hour
	// DefaultMetricsBindAddress is kube-proxy's metrics address.
	DefaultMetricsBindAddress = "127.0.0.1:10249"
	// DefaultHealthzBindAddress is kube-proxy's healthz port.
	DefaultHealthzBindAddress = "0.0.0.0:10256"
)

// BackendConfig is the node-level configuration every backend receives.
type BackendConfig struct {
	NodeName string
	// NodePortAddresses are CIDRs whose local addresses accept NodePorts
	// (empty: every local address except loopback).
	NodePortAddresses []string
	// ClusterCIDR is the pod CIDR of the whole cluster; traffic from outside
	// it to a ClusterIP is masqueraded ("" disables that rule).
	ClusterCIDR string
	// ServiceCIDRs are the ClusterIP ranges; unallocated IPs are dropped.
	ServiceCIDRs []string
	// MasqueradeAll masquerades all service traffic.
	MasqueradeAll bool
	// DropInvalid drops forwarded packets that conntrack marks INVALID,
	// such as a TCP segment outside the window. Such a packet misses the
	// reverse NAT of its connection, so a client that reached a pod
	// through a Service would see the pod's own address and reset the
	// connection (Kubernetes issue 74839). Not needed when the kernel is
	// liberal (nf_conntrack_tcp_be_liberal=1), which keeps those packets
	// in the connection.
	DropInvalid bool
	Logger      *slog.Logger
}

// BackendFactory builds a Backend for one proxy mode.
type BackendFactory func(cfg BackendConfig) (Backend, error)

// Config configures a Proxy.
type Config struct {
	Client kubernetes.Interface
	// Informers provides Service, EndpointSlice and Node informers; the
	// caller starts it after New.
	Informers informers.SharedInformerFactory
	NodeName  string
	// Mode selects the backend from Backends ("nftables", "iptables",
	// "userspace"). Empty picks nftables where it works (the nft binary and
	// CAP_NET_ADMIN), else userspace.
	Mode string
	// Backends maps modes to constructors (see package proxy/modes).
	Backends          map[string]BackendFactory
	NodePortAddresses []string
	ClusterCIDR       string
	ServiceCIDRs      []string
	MasqueradeAll     bool
	// RefuseExternalIPs ignores spec.externalIPs (CVE-2020-8554).
	RefuseExternalIPs bool
	// SyncPeriod is the full-resync period (default 1h).
	SyncPeriod time.Duration
	// MinSyncPeriod bounds the sync rate (default 1s).
	MinSyncPeriod time.Duration
	// HealthzBindAddress serves /healthz ("" disables).
	HealthzBindAddress string
	// HealthCheckNodePorts serves each healthCheckNodePort of Services
	// with externalTrafficPolicy Local on every address of the node.
	HealthCheckNodePorts bool
	// MetricsBindAddress serves /metrics ("" disables).
	MetricsBindAddress string
	// Conntrack, when set, deletes UDP conntrack entries made stale by each
	// successful sync (see StaleUDPFlows); nil disables the cleanup.
	Conntrack Conntrack
	// Registerer receives the metrics (a private registry when nil).
	Registerer prometheus.Registerer
	Logger     *slog.Logger
}

// Proxy is the per-node service proxy component.
type Proxy struct {
	cfg      Config
	log      *slog.Logger
	backend  Backend
	tracker  *Tracker
	runner   *Runner
	metrics  *Metrics
	gatherer prometheus.Gatherer
	health   *Health
	// hc serves health-check node ports (nil when disabled).
	hc     *healthcheck.Server
	synced []cache.InformerSynced
	// programmed is the State of the last successful sync (runner goroutine only).
	programmed *State
}

// New validates cfg, builds the backend and registers informer handlers.
func New(cfg Config) (*Proxy, error) {
	if cfg.Informers == nil {
		return nil, errors.New("proxy: Informers is required")
	}
	if cfg.NodeName == "" {
		return nil, errors.New("proxy: NodeName is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.SyncPeriod <= 0 {
		cfg.SyncPeriod = DefaultSyncPeriod
	}
	if cfg.MinSyncPeriod < 0 {
		cfg.MinSyncPeriod = 0
	} else if cfg.MinSyncPeriod == 0 {
		cfg.MinSyncPeriod = DefaultMinSyncPeriod
	}
	backend, log, err := newBackend(cfg)
	if err != nil {
		return nil, err
	}
	reg := cfg.Registerer
	var gatherer prometheus.Gatherer
	if reg == nil {
		r := prometheus.NewRegistry()
		reg, gatherer = r, r
	} else if g, ok := reg.(prometheus.Gatherer); ok {
		gatherer = g
	}
	p := &Proxy{
		cfg:      cfg,
		log:      log,
		backend:  backend,
		tracker:  NewTracker(cfg.NodeName, ServiceOptions{RefuseExternalIPs: cfg.RefuseExternalIPs}),
		metrics:  NewMetrics(reg),
		gatherer: gatherer,
	}
	p.health = &Health{Timeout: 2 * cfg.SyncPeriod, Pending: p.tracker.Pending}
	if cfg.HealthCheckNodePorts {
		p.hc = healthcheck.New(healthcheck.Config{Logger: log, Healthy: func() bool {
			ok, _, _ := p.health.Healthy()
			return ok
		}})
	}
	p.runner = NewRunner(p.sync, cfg.MinSyncPeriod, cfg.SyncPeriod, DefaultSyncBurst)
	if err := p.registerHandlers(); err != nil {
		return nil, err
	}
	return p, nil
}

// Metrics returns the proxy's metrics.
func (p *Proxy) Metrics() *Metrics { return p.metrics }

// Health returns the /healthz handler.
func (p *Proxy) Health() *Health { return p.health }

func (p *Proxy) registerHandlers() error {
	svcInf := p.cfg.Informers.Core().V1().Services().Informer()
	sliceInf := p.cfg.Informers.Discovery().V1().EndpointSlices().Informer()
	nodeInf := p.cfg.Informers.Core().V1().Nodes().Informer()
	_, err := svcInf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { p.onService(obj, false) },
		UpdateFunc: func(_, obj any) { p.onService(obj, false) },
		DeleteFunc: func(obj any) { p.onService(obj, true) },
	})
	if err != nil {
		return fmt.Errorf("proxy: add service handler: %w", err)
	}
	_, err = sliceInf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { p.onSlice(obj, false) },
		UpdateFunc: func(_, obj any) { p.onSlice(obj, false) },
		DeleteFunc: func(obj any) { p.onSlice(obj, true) },
	})
	if err != nil {
		return fmt.Errorf("proxy: add endpointslice handler: %w", err)
	}
	_, err = nodeInf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    p.onNode,
		UpdateFunc: func(_, obj any) { p.onNode(obj) },
	})
	if err != nil {
		return fmt.Errorf("proxy: add node handler: %w", err)
	}
	p.synced = []cache.InformerSynced{svcInf.HasSynced, sliceInf.HasSynced, nodeInf.HasSynced}
	return nil
}

func unwrapTombstone(obj any) any {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		return t.Obj
	}
	return obj
}

func (p *Proxy) onService(obj any, deleted bool) {
	svc, ok := unwrapTombstone(obj).(*v1.Service)
	if !ok {
		return
	}
	if deleted || notProxied(svc) {
		p.tracker.DeleteService(svc.Namespace, svc.Name)
	} else {
		p.tracker.SetService(svc)
	}
	p.runner.Trigger()
}

// Labels that keep objects away from the default proxy, as kube-proxy's
// informers select: a Service naming another proxy implementation, and an
// EndpointSlice marked headless (the EndpointSlice controller marks the
// slices of headless Services; anyone may mark a slice they manage).
const (
	LabelServiceProxyName = "service.kubernetes.io/service-proxy-name"
	LabelHeadless         = "service.kubernetes.io/headless"
)

// notProxied reports whether svc carries the label that tells kube-proxy
// (and so svcnet's proxy) to leave it alone.
func notProxied(svc *v1.Service) bool {
	_, other := svc.Labels[LabelServiceProxyName]
	return other
}

// sliceNotProxied reports whether slice is marked headless, which takes
// its endpoints out of the proxy's view: its Service keeps its rules, with
// the endpoints of its other slices or none.
func sliceNotProxied(slice *discovery.EndpointSlice) bool {
	_, headless := slice.Labels[LabelHeadless]
	return headless
}

func (p *Proxy) onSlice(obj any, deleted bool) {
	slice, ok := unwrapTombstone(obj).(*discovery.EndpointSlice)
	if !ok {
		return
	}
	if deleted || sliceNotProxied(slice) {
		p.tracker.DeleteEndpointSlice(slice)
	} else {
		p.tracker.SetEndpointSlice(slice)
	}
	p.runner.Trigger()
}

func (p *Proxy) onNode(obj any) {
	node, ok := obj.(*v1.Node)
	if !ok || node.Name != p.cfg.NodeName {
		return
	}
	p.tracker.SetNodeZone(node.Labels[v1.LabelTopologyZone])
	p.runner.Trigger()
}

// sync takes a snapshot, hands it to the backend and records metrics.
func (p *Proxy) sync(ctx context.Context, full bool) error {
	snap := p.tracker.Snapshot(full)
	start := time.Now()
	err := p.backend.Sync(ctx, snap.State)
	elapsed := time.Since(start).Seconds()
	p.metrics.SyncDuration.Observe(elapsed)
	if snap.State.Full {
		p.metrics.FullSyncDuration.Observe(elapsed)
	} else {
		p.metrics.PartialSyncDuration.Observe(elapsed)
	}
	if err != nil {
		p.metrics.SyncErrors.Inc()
		p.log.Error("Failed to sync proxy rules", "err", err, "full", snap.State.Full)
		return err
	}
	now := time.Now()
	for _, t := range snap.TriggerTimes {
		p.metrics.NetworkProgramming.Observe(now.Sub(t).Seconds())
	}
	p.tracker.Synced(snap)
	p.clearConntrack(ctx, snap.State)
	if p.hc != nil {
		p.hc.Sync(HealthCheckServices(snap.State))
	}
	p.metrics.LastSync.SetToCurrentTime()
	p.health.Updated(now)
	p.log.Debug("Synced proxy rules", "full", snap.State.Full, "changed", len(snap.State.Changed),
		"servicePorts", snap.State.ServicePortCount(), "elapsed", time.Since(start))
	return nil
}

// clearConntrack deletes the UDP conntrack entries the sync of next made
// stale. A failure is logged, not returned: the rules are already right and
// a retry would not find the flows again.
func (p *Proxy) clearConntrack(ctx context.Context, next *State) {
	old := p.programmed
	p.programmed = next
	if p.cfg.Conntrack == nil {
		return
	}
	flows := StaleUDPFlows(old, next)
	if len(flows) == 0 {
		return
	}
	if err := p.cfg.Conntrack.DeleteUDP(ctx, flows); err != nil {
		p.log.Error("Failed to delete stale conntrack entries", "err", err, "flows", len(flows))
	}
}

// Run waits for the informers to sync, starts the health and metrics
// servers and syncs rules until ctx is done.
func (p *Proxy) Run(ctx context.Context) error {
	if !cache.WaitForCacheSync(ctx.Done(), p.synced...) {
		return fmt.Errorf("proxy: wait for caches: %w", ctx.Err())
	}
	p.log.Info("Started service proxy", "node", p.cfg.NodeName)
	if p.cfg.HealthzBindAddress != "" {
		mux := http.NewServeMux()
		mux.Handle("/healthz", p.health)
		mux.Handle("/livez", p.health)
		if err := p.serve(ctx, p.cfg.HealthzBindAddress, mux); err != nil {
			return err
		}
	}
	if p.cfg.MetricsBindAddress != "" && p.gatherer != nil {
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(p.gatherer, promhttp.HandlerOpts{}))
		if err := p.serve(ctx, p.cfg.MetricsBindAddress, mux); err != nil {
			return err
		}
	}
	p.runner.Run(ctx)
	if p.hc != nil {
		p.hc.Close()
	}
	return nil
}

// HealthCheckServices returns, per Service with a health-check node port
// and externalTrafficPolicy Local, its port and the number of distinct
// ready endpoints on this node.
func HealthCheckServices(state *State) map[types.NamespacedName]healthcheck.Service {
	out := map[types.NamespacedName]healthcheck.Service{}
	for name, svc := range state.Services {
		for _, sp := range svc.Ports {
			if sp.HealthCheckNodePort == 0 || !sp.ExternalPolicyLocal {
				continue
			}
			local := map[string]bool{}
			for _, p := range svc.Ports {
				for _, ep := range svc.Endpoints[p.Name] {
					if ep.IsLocal && ep.Ready {
						local[ep.IP] = true
					}
				}
			}
			out[name] = healthcheck.Service{Port: sp.HealthCheckNodePort, LocalEndpoints: len(local)}
			break
		}
	}
	return out
}

func (p *Proxy) serve(ctx context.Context, addr string, h http.Handler) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("proxy: listen on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			p.log.Error("Stopped serving", "addr", addr, "err", err)
		}
	}()
	return nil
}

// newBackend builds the backend of cfg.Mode or, when cfg.Mode is empty, of
// the first of nftables and userspace that can be built here. It returns
// the logger tagged with the mode chosen.
func newBackend(cfg Config) (Backend, *slog.Logger, error) {
	modes := []string{"nftables", "userspace"}
	if cfg.Mode != "" {
		modes = []string{cfg.Mode}
	}
	var errs []error
	for _, mode := range modes {
		factory, ok := cfg.Backends[mode]
		if !ok {
			return nil, nil, fmt.Errorf("proxy: unknown mode %q", mode)
		}
		log := cfg.Logger.With("component", "proxy", "mode", mode)
		backend, err := factory(BackendConfig{
			NodeName:          cfg.NodeName,
			NodePortAddresses: cfg.NodePortAddresses,
			ClusterCIDR:       cfg.ClusterCIDR,
			ServiceCIDRs:      cfg.ServiceCIDRs,
			MasqueradeAll:     cfg.MasqueradeAll,
			DropInvalid:       !tcpBeLiberal(),
			Logger:            log,
		})
		if err == nil {
			if len(errs) > 0 {
				log.Warn("Chose a fallback proxy mode", "err", errors.Join(errs...))
			}
			return backend, log, nil
		}
		errs = append(errs, fmt.Errorf("proxy: create %s backend: %w", mode, err))
	}
	return nil, nil, errors.Join(errs...)
}

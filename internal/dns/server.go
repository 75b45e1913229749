package dns

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/sync/errgroup"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"

	"github.com/svcnet/svcnet/internal/dns/forward"
	k8szone "github.com/svcnet/svcnet/internal/dns/kubernetes"
)

const (
	// ednsSize is the UDP payload size advertised in our own answers
	// (the DNS flag day 2020 value).
	ednsSize = 1232
	// shutdownTimeout bounds graceful shutdown of listeners.
	shutdownTimeout = 5 * time.Second
)

// Config configures a Server.
type Config struct {
	// Client is the API client; kept for components that need it, the
	// records come from Informers.
	Client kubernetes.Interface
	// Informers feeds the record index; the caller starts it after New.
	Informers informers.SharedInformerFactory
	// Domain is the cluster domain ("cluster.local" when empty).
	Domain string
	// TTL of cluster answers in seconds (5 when zero, as CoreDNS).
	TTL uint32
	// Listen lists "host:port" addresses served over both UDP and TCP
	// (":53" when empty). Port 0 picks a free port, the same for both.
	Listen []string
	// Upstreams are resolvers for names outside the domain; the host's
	// ResolvConf nameservers when empty.
	Upstreams []string
	// ResolvConf is read when Upstreams is empty (/etc/resolv.conf).
	ResolvConf string
	// MetricsAddr serves /metrics and HealthAddr serves /health and
	// /ready over HTTP; empty disables each, equal addresses share one
	// listener.
	MetricsAddr, HealthAddr string
	// Registry receives the metrics; a new registry when nil.
	Registry *prometheus.Registry
	// Logger is slog.Default when nil.
	Logger *slog.Logger
	// AllowClient, when set, says which source addresses are answered;
	// queries from others get REFUSED, so a node address reachable from
	// outside the cluster is no open resolver.
	AllowClient func(netip.Addr) bool
}

// Server is the cluster DNS server.
type Server struct {
	cfg     Config
	log     *slog.Logger
	zone    *k8szone.Zone
	fwd     *forward.Forwarder // nil: no upstreams, outside names SERVFAIL
	metrics *metrics
	reg     *prometheus.Registry

	ready chan struct{}
	mu    sync.Mutex
	addrs []string
}

// New builds the Server and registers its informer handlers.
func New(cfg Config) (*Server, error) {
	if cfg.Informers == nil {
		return nil, errors.New("dns server: Informers is required")
	}
	if len(cfg.Listen) == 0 {
		cfg.Listen = []string{":53"}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	zone, err := k8szone.New(k8szone.Config{Informers: cfg.Informers, Domain: cfg.Domain, TTL: cfg.TTL, Logger: log})
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: log, zone: zone, reg: cfg.Registry, ready: make(chan struct{})}
	if s.reg == nil {
		s.reg = prometheus.NewRegistry()
	}
	if s.metrics, err = newMetrics(s.reg); err != nil {
		return nil, fmt.Errorf("dns server: register metrics: %w", err)
	}
	s.fwd, err = forward.New(forward.Config{Upstreams: cfg.Upstreams, ResolvConf: cfg.ResolvConf, Self: cfg.Listen})
	switch {
	case errors.Is(err, forward.ErrNoUpstreams):
		log.Warn("Started without upstream resolvers", "err", err)
	case err != nil:
		return nil, fmt.Errorf("dns server: %w", err)
	}
	return s, nil
}

// Ready is closed once every listener is bound.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Addrs returns the bound DNS addresses (UDP and TCP share each) once
// Ready is closed.
func (s *Server) Addrs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.addrs...)
}

// Zone returns the record index the server answers from.
func (s *Server) Zone() *k8szone.Zone { return s.zone }

// Run serves DNS and HTTP until ctx is done.
func (s *Server) Run(ctx context.Context) error {
	var servers []*dns.Server
	closeAll := func() {
		for _, srv := range servers {
			if srv.PacketConn != nil {
				srv.PacketConn.Close()
			}
			if srv.Listener != nil {
				srv.Listener.Close()
			}
		}
	}
	for _, addr := range s.cfg.Listen {
		pc, l, err := listenBoth(addr)
		if err != nil {
			closeAll()
			return fmt.Errorf("dns server: listen %s: %w", addr, err)
		}
		servers = append(servers,
			&dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(s.ServeDNS)},
			&dns.Server{Listener: l, Handler: dns.HandlerFunc(s.ServeDNS)})
		s.mu.Lock()
		s.addrs = append(s.addrs, pc.LocalAddr().String())
		s.mu.Unlock()
	}
	httpServers, err := s.httpServers()
	if err != nil {
		closeAll()
		return err
	}

	g, gctx := errgroup.WithContext(ctx)
	for _, srv := range servers {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		g.Go(func() error { return srv.ActivateAndServe() })
		select {
		case <-started:
		case <-gctx.Done():
		}
	}
	for _, hs := range httpServers {
		g.Go(func() error {
			if err := hs.srv.Serve(hs.l); !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		})
	}
	s.log.Info("Started DNS server", "addrs", s.Addrs(), "domain", s.zone.Origin())
	close(s.ready)
	g.Go(func() error {
		<-gctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		for _, srv := range servers {
			_ = srv.ShutdownContext(sctx)
		}
		for _, hs := range httpServers {
			_ = hs.srv.Shutdown(sctx)
		}
		return nil
	})
	err = g.Wait()
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// listenBoth binds UDP and TCP on the same address; with port 0 the TCP
// listener takes the port the UDP socket got.
func listenBoth(addr string) (net.PacketConn, net.Listener, error) {
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		return nil, nil, err
	}
	host, _, _ := net.SplitHostPort(addr)
	_, port, _ := net.SplitHostPort(pc.LocalAddr().String())
	l, err := net.Listen("tcp", net.JoinHostPort(host, port))
	if err != nil {
		pc.Close()
		return nil, nil, err
	}
	return pc, l, nil
}

type httpServer struct {
	srv *http.Server
	l   net.Listener
}

// Handler returns the HTTP handler of /metrics, /health and /ready.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	s.addMetrics(mux)
	s.addHealth(mux)
	return mux
}

func (s *Server) addMetrics(mux *http.ServeMux) {
	mux.Handle("/metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{}))
}

func (s *Server) addHealth(mux *http.ServeMux) {
	mux.HandleFunc("/health", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("OK"))
	})
	mux.HandleFunc("/ready", func(w http.ResponseWriter, _ *http.Request) {
		select {
		case <-s.ready:
		default:
			http.Error(w, "listeners not bound", http.StatusServiceUnavailable)
			return
		}
		if !s.zone.HasSynced() {
			http.Error(w, "informer caches not synced", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("OK"))
	})
}

func (s *Server) httpServers() ([]httpServer, error) {
	muxes := map[string]*http.ServeMux{}
	mux := func(addr string) *http.ServeMux {
		if muxes[addr] == nil {
			muxes[addr] = http.NewServeMux()
		}
		return muxes[addr]
	}
	if s.cfg.MetricsAddr != "" {
		s.addMetrics(mux(s.cfg.MetricsAddr))
	}
	if s.cfg.HealthAddr != "" {
		s.addHealth(mux(s.cfg.HealthAddr))
	}
	var out []httpServer
	for addr, m := range muxes {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			for _, hs := range out {
				hs.l.Close()
			}
			return nil, fmt.Errorf("dns server: listen %s: %w", addr, err)
		}
		out = append(out, httpServer{srv: &http.Server{Handler: m, ReadHeaderTimeout: 10 * time.Second}, l: l})
	}
	return out, nil
}

// ServeDNS answers one request: cluster names from the zone, everything
// else through the forwarder.
func (s *Server) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	start := time.Now()
	proto := "udp"
	if _, ok := w.RemoteAddr().(*net.TCPAddr); ok {
		proto = "tcp"
	}
	family := "1"
	if a, ok := w.RemoteAddr().(*net.UDPAddr); ok && a.IP.To4() == nil {
		family = "2"
	} else if a, ok := w.RemoteAddr().(*net.TCPAddr); ok && a.IP.To4() == nil {
		family = "2"
	}

	var resp *dns.Msg
	zoneLabel, qtype := ".", uint16(0)
	if s.allowed(w.RemoteAddr()) {
		resp, zoneLabel, qtype = s.answer(req)
	} else {
		resp = new(dns.Msg).SetRcode(req, dns.RcodeRefused)
		if len(req.Question) == 1 {
			qtype = req.Question[0].Qtype
		}
	}
	resp.Compress = true
	if proto == "udp" {
		size := dns.MinMsgSize
		if opt := req.IsEdns0(); opt != nil {
			size = max(int(opt.UDPSize()), dns.MinMsgSize)
		}
		resp.Truncate(size)
	}
	if err := w.WriteMsg(resp); err != nil {
		s.log.Debug("Dropped DNS answer", "err", err)
	}
	t := typeLabel(qtype)
	s.metrics.requests.WithLabelValues(proto, family, t, zoneLabel).Inc()
	s.metrics.responses.WithLabelValues(rcodeLabel(resp.Rcode), zoneLabel).Inc()
	s.metrics.duration.WithLabelValues(t, zoneLabel).Observe(time.Since(start).Seconds())
}

// allowed reports whether a query from addr is answered.
func (s *Server) allowed(addr net.Addr) bool {
	if s.cfg.AllowClient == nil {
		return true
	}
	var ip net.IP
	switch a := addr.(type) {
	case *net.UDPAddr:
		ip = a.IP
	case *net.TCPAddr:
		ip = a.IP
	default:
		return false
	}
	src, ok := netip.AddrFromSlice(ip)
	return ok && s.cfg.AllowClient(src.Unmap())
}

// answer builds the reply, and returns the zone label and question type
// for metrics.
func (s *Server) answer(req *dns.Msg) (*dns.Msg, string, uint16) {
	m := new(dns.Msg)
	if req.Opcode != dns.OpcodeQuery {
		return m.SetRcode(req, dns.RcodeNotImplemented), ".", 0
	}
	if len(req.Question) != 1 {
		return m.SetRcode(req, dns.RcodeFormatError), ".", 0
	}
	q := req.Question[0]
	if q.Qclass == dns.ClassINET || q.Qclass == dns.ClassANY {
		if r, ok := s.zone.Lookup(q.Name, q.Qtype); ok {
			m.SetReply(req)
			m.Authoritative, m.RecursionAvailable = true, true
			m.Rcode = r.Rcode
			m.Answer, m.Ns, m.Extra = r.Answer, r.Ns, r.Extra
			s.chaseExternal(m, q.Qtype)
			if opt := req.IsEdns0(); opt != nil {
				m.SetEdns0(ednsSize, opt.Do())
			}
			return m, s.zone.Origin(), q.Qtype
		}
	}
	return s.forward(req), ".", q.Qtype
}

// chaseExternal resolves the target of an answer's trailing CNAME that
// points outside the cluster (an ExternalName Service) through the
// upstreams, as CoreDNS does, so stub resolvers get addresses.
func (s *Server) chaseExternal(m *dns.Msg, qtype uint16) {
	if s.fwd == nil || qtype == dns.TypeCNAME || len(m.Answer) == 0 {
		return
	}
	cname, ok := m.Answer[len(m.Answer)-1].(*dns.CNAME)
	if !ok || s.zone.InZone(cname.Target) {
		return
	}
	sub := new(dns.Msg)
	sub.SetQuestion(cname.Target, qtype)
	resp, _, err := s.fwd.Forward(context.Background(), sub)
	if err != nil {
		s.log.Debug("Failed to resolve ExternalName target", "target", cname.Target, "err", err)
		return
	}
	m.Answer = append(m.Answer, resp.Answer...)
	m.Rcode = resp.Rcode
}

func (s *Server) forward(req *dns.Msg) *dns.Msg {
	if s.fwd == nil {
		m := new(dns.Msg)
		m.SetRcode(req, dns.RcodeServerFailure)
		m.RecursionAvailable = true
		return m
	}
	resp, cached, err := s.fwd.Forward(context.Background(), req)
	switch {
	case cached && resp.Rcode == dns.RcodeSuccess && len(resp.Answer) > 0:
		s.metrics.cacheHits.WithLabelValues("success").Inc()
	case cached:
		s.metrics.cacheHits.WithLabelValues("denial").Inc()
	default:
		s.metrics.cacheMisses.Inc()
	}
	if err != nil {
		s.metrics.forwardErrors.Inc()
		s.log.Debug("Failed to forward question", "name", req.Question[0].Name, "err", err)
	}
	return resp
}

func rcodeLabel(rc int) string {
	if s, ok := dns.RcodeToString[rc]; ok {
		return s
	}
	return strconv.Itoa(rc)
}

package userspace

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/svcnet/svcnet/internal/proxy"
)

// DefaultInterface holds the cluster IPs.
const DefaultInterface = "svcnet-lb0"

// Config configures a Proxier.
type Config struct {
	proxy.BackendConfig
	// Interface receives each cluster IP as a /32 (default svcnet-lb0). It is
	// created as a dummy link when missing and then deleted by Close; an
	// existing link is used as is.
	Interface string
	// UDPIdleTimeout closes idle UDP sessions (default 30s).
	UDPIdleTimeout time.Duration
}

// Proxier is the userspace proxy.Backend.
type Proxier struct {
	cfg Config
	log *slog.Logger

	mu sync.Mutex
	// link is the cluster-IP interface; nil when cluster IPs are not served.
	link       netlink.Link
	created    bool
	linkTried  bool
	addrs      map[string]bool // cluster IPs this proxier added to link
	forwarders map[listenKey]*listener
	closed     bool
}

type listener struct {
	plan plannedListener
	bal  *balancer
	fwd  forwarder
}

var _ proxy.Backend = (*Proxier)(nil)

// New returns a Proxier; nothing is bound until the first Sync.
func New(cfg Config) (*Proxier, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Interface == "" {
		cfg.Interface = DefaultInterface
	}
	if cfg.UDPIdleTimeout <= 0 {
		cfg.UDPIdleTimeout = DefaultUDPIdleTimeout
	}
	for _, c := range cfg.NodePortAddresses {
		if _, err := netip.ParsePrefix(c); err != nil {
			return nil, fmt.Errorf("userspace: node port address %q: %w", c, err)
		}
	}
	p := &Proxier{cfg: cfg, log: cfg.Logger, addrs: map[string]bool{}, forwarders: map[listenKey]*listener{}}
	p.log.Warn("Started userspace proxy with reduced semantics",
		"noSourceIPPreservation", "endpoints see the proxy's address; externalTrafficPolicy Local only limits endpoint choice",
		"noEndpoints", "refused instead of dropped",
		"unsupported", "externalIPs, load-balancer IPs, SCTP, masquerade settings")
	return p, nil
}

// Factory builds a Proxier; it is the proxy.BackendFactory for mode "userspace".
func Factory(cfg proxy.BackendConfig) (proxy.Backend, error) {
	return New(Config{BackendConfig: cfg})
}

// Sync implements proxy.Backend: it opens, updates and closes listeners of
// the changed Services (all of them on a full sync). Listeners of unchanged
// Services are not touched, and open connections survive endpoint changes.
func (p *Proxier) Sync(ctx context.Context, state *proxy.State) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return errors.New("userspace: proxier closed")
	}
	p.ensureLink()
	nodeIPs, err := p.nodePortIPs()
	if err != nil {
		return err
	}
	scope := map[types.NamespacedName]bool{}
	if state.Full {
		for name := range state.Services {
			scope[name] = true
		}
		for _, l := range p.forwarders {
			scope[l.plan.Service] = true
		}
	} else {
		for name := range state.Changed {
			scope[name] = true
		}
	}
	desired := map[listenKey]plannedListener{}
	for name := range scope {
		for k, pl := range planService(name, state.Services[name], state.Node, nodeIPs, p.link != nil) {
			desired[k] = pl
		}
	}
	// Close first so a port moving between Services can be re-bound.
	for _, k := range sortedListenKeys(p.forwarders) {
		l := p.forwarders[k]
		if _, ok := desired[k]; !ok && scope[l.plan.Service] {
			l.fwd.close()
			delete(p.forwarders, k)
		}
	}
	// Every cluster IP is kept on the interface, with or without
	// endpoints, so a port nobody listens on is refused by the kernel.
	errs := []error{p.syncAddrs(state)}
	for _, k := range sortedListenKeys(desired) {
		pl := desired[k]
		if l, ok := p.forwarders[k]; ok {
			l.plan = pl
			l.bal.update(pl.Endpoints, pl.AffinitySeconds)
			continue
		}
		if err := p.open(k, pl); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// open binds one socket and starts forwarding.
func (p *Proxier) open(k listenKey, pl plannedListener) error {
	bal := newBalancer(time.Now)
	bal.update(pl.Endpoints, pl.AffinitySeconds)
	addr := net.JoinHostPort(k.IP, strconv.Itoa(int(k.Port)))
	log := p.log.With("service", pl.Port.String(), "addr", addr, "protocol", string(k.Protocol))
	var fwd forwarder
	switch k.Protocol {
	case v1.ProtocolTCP:
		ln, err := net.Listen("tcp4", addr)
		if err != nil {
			return fmt.Errorf("userspace: listen %s: %w", k, err)
		}
		fwd = startTCP(ln.(*net.TCPListener), bal, log)
	case v1.ProtocolUDP:
		pc, err := net.ListenPacket("udp4", addr)
		if err != nil {
			return fmt.Errorf("userspace: listen %s: %w", k, err)
		}
		fwd = startUDP(pc.(*net.UDPConn), bal, p.cfg.UDPIdleTimeout, log)
	default:
		return fmt.Errorf("userspace: protocol %s not supported", k.Protocol)
	}
	p.forwarders[k] = &listener{plan: pl, bal: bal, fwd: fwd}
	log.Debug("Opened service listener")
	return nil
}

// nodePortIPs returns the addresses NodePorts bind: the wildcard, or the
// local addresses inside NodePortAddresses.
func (p *Proxier) nodePortIPs() ([]string, error) {
	if len(p.cfg.NodePortAddresses) == 0 {
		return []string{""}, nil
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil, fmt.Errorf("userspace: list local addresses: %w", err)
	}
	var out []string
	for _, a := range addrs {
		ipnet, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		ip, ok := netip.AddrFromSlice(ipnet.IP)
		if !ok || !ip.Unmap().Is4() {
			continue
		}
		ip = ip.Unmap()
		for _, c := range p.cfg.NodePortAddresses {
			if pfx, err := netip.ParsePrefix(c); err == nil && pfx.Contains(ip) && !slices.Contains(out, ip.String()) {
				out = append(out, ip.String())
			}
		}
	}
	return out, nil
}

// ensureLink finds or creates the cluster-IP interface once; on failure it
// logs once and the proxier serves only NodePorts from then on.
func (p *Proxier) ensureLink() {
	if p.linkTried {
		return
	}
	p.linkTried = true
	if l, err := netlink.LinkByName(p.cfg.Interface); err == nil {
		p.link = l
		return
	}
	d := &netlink.Dummy{LinkAttrs: netlink.LinkAttrs{Name: p.cfg.Interface}}
	if err := netlink.LinkAdd(d); err != nil {
		// Kernels without the dummy link type: loopback holds the
		// addresses instead (they are local either way).
		lo, loErr := netlink.LinkByName("lo")
		if loErr != nil {
			p.log.Warn("Failed to create cluster IP interface; serving only NodePorts", "interface", p.cfg.Interface, "err", err)
			return
		}
		p.log.Info("Put cluster IPs on lo: no dummy link type", "interface", p.cfg.Interface, "err", err)
		p.link = lo
		return
	}
	if err := netlink.LinkSetUp(d); err != nil {
		p.log.Warn("Failed to set cluster IP interface up; serving only NodePorts", "interface", p.cfg.Interface, "err", err)
		_ = netlink.LinkDel(d)
		return
	}
	p.link, p.created = d, true
}

func hostAddr(ip string) (*netlink.Addr, error) {
	return netlink.ParseAddr(ip + "/32")
}

// syncAddrs makes the cluster IPs this proxier added to the interface
// equal to the cluster IPs of state's Services.
func (p *Proxier) syncAddrs(state *proxy.State) error {
	if p.link == nil {
		return nil
	}
	want := map[string]bool{}
	for _, svc := range state.Services {
		for _, sp := range svc.Ports {
			want[sp.ClusterIP] = true
		}
	}
	var errs []error
	for ip := range want {
		if p.addrs[ip] {
			continue
		}
		a, err := hostAddr(ip)
		if err == nil {
			err = netlink.AddrReplace(p.link, a)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("userspace: add %s to %s: %w", ip, p.cfg.Interface, err))
			continue
		}
		p.addrs[ip] = true
	}
	for ip := range p.addrs {
		if want[ip] {
			continue
		}
		a, err := hostAddr(ip)
		if err == nil {
			err = netlink.AddrDel(p.link, a)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("userspace: remove %s from %s: %w", ip, p.cfg.Interface, err))
			continue
		}
		delete(p.addrs, ip)
	}
	return errors.Join(errs...)
}

// Close stops every listener and connection and removes the addresses (and
// the interface, when this proxier created it).
func (p *Proxier) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	for k, l := range p.forwarders {
		l.fwd.close()
		delete(p.forwarders, k)
	}
	if p.link == nil {
		return nil
	}
	if p.created {
		return netlink.LinkDel(p.link)
	}
	var errs []error
	for ip := range p.addrs {
		if a, err := hostAddr(ip); err == nil {
			errs = append(errs, netlink.AddrDel(p.link, a))
		}
	}
	return errors.Join(errs...)
}

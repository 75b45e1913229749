package announce

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/sys/unix"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	coreinformers "k8s.io/client-go/informers/core/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/client-go/tools/cache"
)

// Config configures an Announcer.
type Config struct {
	// Informers provides Services, Nodes and EndpointSlices; the caller
	// starts it.
	Informers informers.SharedInformerFactory
	// Pools, when set, is the informer of the ConfigMap the LoadBalancer
	// controller publishes its pools in (loadbalancer.PoolsConfigMap):
	// only addresses of those pools are announced, none while it is
	// missing. nil announces every ingress address (tests).
	Pools    coreinformers.ConfigMapInformer
	NodeName string
	Logger   *slog.Logger
}

// Announcer answers ARP for the LoadBalancer IPs this node owns.
type Announcer struct {
	cfg      Config
	log      *slog.Logger
	services corelisters.ServiceLister
	nodes    corelisters.NodeLister
	slices   discoverylisters.EndpointSliceLister
	pools    corelisters.ConfigMapLister
	synced   []cache.InformerSynced
	changed  chan struct{}

	mu    sync.Mutex
	owned map[netip.Addr]bool
	// garps tracks the goroutines sending gratuitous ARPs, which Run
	// waits for before it closes their socket.
	garps sync.WaitGroup
}

// New returns an Announcer and registers its informer handlers.
func New(cfg Config) (*Announcer, error) {
	if cfg.Informers == nil || cfg.NodeName == "" {
		return nil, errors.New("announce: Informers and NodeName are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	a := &Announcer{cfg: cfg, log: cfg.Logger, changed: make(chan struct{}, 1), owned: map[netip.Addr]bool{}}
	svc := cfg.Informers.Core().V1().Services()
	node := cfg.Informers.Core().V1().Nodes()
	// EndpointSlices tell which nodes may announce the IPs of Services
	// with externalTrafficPolicy Local; the proxy shares their informer.
	slice := cfg.Informers.Discovery().V1().EndpointSlices()
	a.services, a.nodes, a.slices = svc.Lister(), node.Lister(), slice.Lister()
	poke := func(any) { a.poke() }
	h := cache.ResourceEventHandlerFuncs{AddFunc: poke, DeleteFunc: poke, UpdateFunc: func(_, n any) { a.poke() }}
	infs := []cache.SharedIndexInformer{svc.Informer(), node.Informer(), slice.Informer()}
	if cfg.Pools != nil {
		a.pools = cfg.Pools.Lister()
		infs = append(infs, cfg.Pools.Informer())
	}
	for _, inf := range infs {
		if _, err := inf.AddEventHandler(h); err != nil {
			return nil, fmt.Errorf("announce: %w", err)
		}
		a.synced = append(a.synced, inf.HasSynced)
	}
	return a, nil
}

func (a *Announcer) poke() {
	select {
	case a.changed <- struct{}{}:
	default:
	}
}

// Owned reports whether this node currently announces ip.
func (a *Announcer) Owned(ip netip.Addr) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.owned[ip]
}

// Run answers ARP requests until ctx ends.
func (a *Announcer) Run(ctx context.Context) error {
	if !cache.WaitForCacheSync(ctx.Done(), a.synced...) {
		return ctx.Err()
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_ARP)))
	if err != nil {
		// Without CAP_NET_RAW the node still serves LB IPs routed to it.
		a.log.Warn("Skipped announcing load-balancer IPs: no ARP socket", "err", err)
		<-ctx.Done()
		return nil
	}
	defer unix.Close(fd)
	// A receive timeout lets the reader notice ctx's end.
	tv := unix.NsecToTimeval((500 * time.Millisecond).Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return fmt.Errorf("announce: ARP socket timeout: %w", err)
	}
	done := make(chan struct{})
	go func() { defer close(done); a.serve(ctx, fd) }()
	a.poke()
	for {
		select {
		case <-ctx.Done():
			<-done
			a.garps.Wait()
			return nil
		case <-a.changed:
			a.resync(ctx, fd)
		}
	}
}

// resync recomputes the owned IPs and announces the new ones.
func (a *Announcer) resync(ctx context.Context, fd int) {
	svcs, err := a.services.List(labels.Everything())
	if err != nil {
		return
	}
	nodes, err := a.nodes.List(labels.Everything())
	if err != nil {
		return
	}
	owned := OwnedIPs(a.cfg.NodeName, svcs, nodes, a.endpointNodes, a.inPools())
	a.mu.Lock()
	var gained []netip.Addr
	for ip := range owned {
		if !a.owned[ip] {
			gained = append(gained, ip)
		}
	}
	for ip := range a.owned {
		if !owned[ip] {
			a.log.Info("Stopped announcing load-balancer IP", "ip", ip)
		}
	}
	a.owned = owned
	a.mu.Unlock()
	for _, ip := range gained {
		a.log.Info("Announcing load-balancer IP", "ip", ip, "interfaces", len(interfacesFor(ip)))
		a.garps.Add(1)
		go func() {
			defer a.garps.Done()
			a.sendGratuitous(ctx, fd, ip)
		}()
	}
}

// sendGratuitous tells the network that ip is now at this node: a
// gratuitous ARP right away, then a few more while the node still owns ip.
// One alone can be lost, or ignored by a neighbour whose entry changed
// less than its locktime (1s) before, as when ownership moves back and
// forth while the nodes' views of each other settle; MetalLB repeats them
// too.
func (a *Announcer) sendGratuitous(ctx context.Context, fd int, ip netip.Addr) {
	var waited time.Duration
	for _, at := range []time.Duration{0, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second} {
		select {
		case <-ctx.Done():
			return
		case <-time.After(at - waited):
		}
		waited = at
		if !a.Owned(ip) {
			return
		}
		for _, ifc := range interfacesFor(ip) {
			if err := send(fd, ifc.Index, broadcastMAC, gratuitous(ip, ifc.HardwareAddr)); err != nil {
				a.log.Warn("Sending gratuitous ARP failed", "ip", ip, "interface", ifc.Name, "err", err)
			}
		}
	}
}

// endpointNodes lists the nodes with a ready endpoint of a Service from
// its EndpointSlices in the cache.
func (a *Announcer) endpointNodes(namespace, name string) map[string]bool {
	slices, err := a.slices.EndpointSlices(namespace).List(labels.SelectorFromSet(labels.Set{discoveryv1.LabelServiceName: name}))
	if err != nil {
		return nil
	}
	return ReadyEndpointNodes(slices)
}

// serve answers ARP requests for owned IPs on interfaces on their subnet.
func (a *Announcer) serve(ctx context.Context, fd int) {
	buf := make([]byte, 1500)
	for ctx.Err() == nil {
		n, from, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			continue // timeout or interrupted: look at ctx again
		}
		ll, ok := from.(*unix.SockaddrLinklayer)
		if !ok || ll.Pkttype == unix.PACKET_OUTGOING {
			continue
		}
		req, err := parseARP(buf[:n])
		if err != nil || req.Op != arpRequest || !a.Owned(req.TargetIP) {
			continue
		}
		ifc, err := net.InterfaceByIndex(ll.Ifindex)
		if err != nil || !onSubnet(ifc, req.TargetIP) {
			continue
		}
		if err := send(fd, ifc.Index, req.SenderMAC, reply(req, ifc.HardwareAddr)); err != nil {
			a.log.Warn("Answering ARP failed", "ip", req.TargetIP, "interface", ifc.Name, "err", err)
		}
	}
}

func send(fd, ifindex int, to net.HardwareAddr, p arpPacket) error {
	sa := &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ARP), Ifindex: ifindex, Halen: 6}
	copy(sa.Addr[:], to)
	return unix.Sendto(fd, p.marshal(), 0, sa)
}

// interfacesFor returns the up, non-loopback Ethernet interfaces with an
// IPv4 subnet holding ip.
func interfacesFor(ip netip.Addr) []net.Interface {
	all, err := net.Interfaces()
	if err != nil {
		return nil
	}
	var out []net.Interface
	for _, ifc := range all {
		if onSubnet(&ifc, ip) {
			out = append(out, ifc)
		}
	}
	return out
}

func onSubnet(ifc *net.Interface, ip netip.Addr) bool {
	if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagLoopback != 0 || len(ifc.HardwareAddr) != 6 {
		return false
	}
	addrs, err := ifc.Addrs()
	if err != nil {
		return false
	}
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		pfx, err := netip.ParsePrefix(ipn.String())
		if err == nil && pfx.Addr().Is4() && pfx.Masked().Contains(ip) {
			return true
		}
	}
	return false
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

package podnet

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
	"sigs.k8s.io/knftables"
)

// Defaults of Config.
const (
	DefaultBridgeName = "svcnet0"
	DefaultNetnsDir   = "/run/svcnet/netns"
	// podIfName is the pod end of the veth pair, as CNI plugins name it.
	podIfName = "eth0"
	// vethPrefix marks host veth ends made by podnet (IFNAMSIZ allows 15).
	vethPrefix = "svc"
)

// Config configures a Manager.
type Config struct {
	// PodCIDR is the node's pod range; the bridge gets its first address.
	PodCIDR netip.Prefix
	// DataDir holds the IPAM state.
	DataDir string
	// NetnsDir holds the pinned pod namespaces; default DefaultNetnsDir.
	NetnsDir string
	// BridgeName defaults to DefaultBridgeName.
	BridgeName string
	// MTU of the bridge and veths; 0 keeps the kernel default.
	MTU int
	// ClusterCIDR is the pod network of the whole cluster; pod traffic to
	// other destinations is masqueraded (unset: no masquerading).
	ClusterCIDR netip.Prefix
	// NFT programs the masquerade table; nil means the real nft.
	NFT knftables.Interface
	// HostPortNFT programs the hostPort table (svcnet-hostports); nil
	// means the real nft, made when the first host port is published.
	HostPortNFT knftables.Interface
	// FlushUDP deletes the conntrack entries of UDP flows to port of the
	// node, whose hostPort mapping just changed, so that the next packets
	// of a flow begun before are DNATed afresh; nil runs `conntrack -D`
	// where conntrack is installed.
	FlushUDP func(ctx context.Context, port uint16) error
	Logger   *slog.Logger
}

// Manager sets up and tears down pod networks on one node.
type Manager struct {
	cfg  Config
	ipam *IPAM
	log  *slog.Logger
	hp   hostPorts
}

// Sandbox describes a pod's network.
type Sandbox struct {
	// NetnsPath is the pinned namespace, usable with setns(2).
	NetnsPath string
	IP        netip.Addr
	Gateway   netip.Addr
}

// New returns a Manager; call EnsureBridge before SetupPod.
func New(cfg Config) (*Manager, error) {
	if !cfg.PodCIDR.IsValid() {
		return nil, errors.New("podnet: PodCIDR is required")
	}
	if cfg.NetnsDir == "" {
		cfg.NetnsDir = DefaultNetnsDir
	}
	if cfg.BridgeName == "" {
		cfg.BridgeName = DefaultBridgeName
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.FlushUDP == nil {
		cfg.FlushUDP = flushUDPConntrack
	}
	ipam, err := NewIPAM(cfg.PodCIDR, filepath.Join(cfg.DataDir, "ipam"))
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.NetnsDir, 0o755); err != nil {
		return nil, fmt.Errorf("creating netns dir: %w", err)
	}
	return &Manager{cfg: cfg, ipam: ipam, log: cfg.Logger, hp: hostPorts{nft: cfg.HostPortNFT}}, nil
}

// IPAM returns the node's address allocator.
func (m *Manager) IPAM() *IPAM { return m.ipam }

// EnsureBridge creates the bridge if needed, gives it the gateway address,
// brings it up and enables IPv4 forwarding in the current namespace.
func (m *Manager) EnsureBridge() error {
	br, err := netlink.LinkByName(m.cfg.BridgeName)
	if err != nil {
		la := netlink.NewLinkAttrs()
		la.Name = m.cfg.BridgeName
		la.MTU = m.cfg.MTU
		if err := netlink.LinkAdd(&netlink.Bridge{LinkAttrs: la}); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("creating bridge: %w", err)
		}
		if br, err = netlink.LinkByName(m.cfg.BridgeName); err != nil {
			return fmt.Errorf("finding bridge: %w", err)
		}
	}
	addr := &netlink.Addr{IPNet: ipNet(m.ipam.Gateway(), m.cfg.PodCIDR.Bits())}
	if err := netlink.AddrReplace(br, addr); err != nil {
		return fmt.Errorf("addressing bridge: %w", err)
	}
	if err := netlink.LinkSetUp(br); err != nil {
		return fmt.Errorf("bringing bridge up: %w", err)
	}
	if err := os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1"), 0o644); err != nil {
		return fmt.Errorf("enabling ip_forward: %w", err)
	}
	return nil
}

// NetnsPath returns where the namespace of pod uid is pinned.
func (m *Manager) NetnsPath(uid string) string { return filepath.Join(m.cfg.NetnsDir, uid) }

// hostVethName derives a stable, short host interface name from a pod UID.
func hostVethName(uid string) string {
	sum := sha256.Sum256([]byte(uid))
	return vethPrefix + hex.EncodeToString(sum[:])[:11]
}

// SetupPod creates (or, after a restart, finds) the pod's namespace, veth
// pair and address. It is idempotent.
func (m *Manager) SetupPod(uid string) (Sandbox, error) {
	ip, err := m.ipam.Allocate(uid)
	if err != nil {
		return Sandbox{}, fmt.Errorf("allocating pod IP: %w", err)
	}
	sb := Sandbox{NetnsPath: m.NetnsPath(uid), IP: ip, Gateway: m.ipam.Gateway()}
	if err := m.setup(uid, sb); err != nil {
		if terr := m.TeardownPod(uid); terr != nil {
			m.log.Warn("Failed cleaning up half-made pod network", "podUID", uid, "err", terr)
		}
		return Sandbox{}, err
	}
	return sb, nil
}

func (m *Manager) setup(uid string, sb Sandbox) error {
	if !pinned(sb.NetnsPath) {
		if err := createNetns(sb.NetnsPath); err != nil {
			return err
		}
	}
	ns, err := netns.GetFromPath(sb.NetnsPath)
	if err != nil {
		return fmt.Errorf("opening pod netns: %w", err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return fmt.Errorf("opening pod netlink handle: %w", err)
	}
	defer h.Close()

	lo, err := h.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("finding pod loopback: %w", err)
	}
	if err := h.LinkSetUp(lo); err != nil {
		return fmt.Errorf("bringing pod loopback up: %w", err)
	}
	if _, err := h.LinkByName(podIfName); err == nil {
		// Set up before an agent restart; an older agent may not have
		// set hairpin mode. A failure must not tear down the network of
		// a running pod: it only loses the pod its own Service.
		if err := m.setHairpin(hostVethName(uid)); err != nil {
			m.log.Warn("Failed setting hairpin mode on a re-adopted pod", "podUID", uid, "err", err)
		}
		return nil
	}

	br, err := netlink.LinkByName(m.cfg.BridgeName)
	if err != nil {
		return fmt.Errorf("finding bridge: %w", err)
	}
	hostName := hostVethName(uid)
	if old, err := netlink.LinkByName(hostName); err == nil {
		_ = netlink.LinkDel(old)
	}
	la := netlink.NewLinkAttrs()
	la.Name = hostName
	la.MTU = m.cfg.MTU
	la.MasterIndex = br.Attrs().Index
	peer := "p" + hostName[1:]
	veth := &netlink.Veth{LinkAttrs: la, PeerName: peer, PeerNamespace: netlink.NsFd(int(ns))}
	if err := netlink.LinkAdd(veth); err != nil {
		return fmt.Errorf("creating veth: %w", err)
	}
	host, err := netlink.LinkByName(hostName)
	if err != nil {
		return fmt.Errorf("finding host veth: %w", err)
	}
	if err := m.setHairpin(hostName); err != nil {
		return err
	}
	if err := netlink.LinkSetUp(host); err != nil {
		return fmt.Errorf("bringing host veth up: %w", err)
	}
	pod, err := h.LinkByName(peer)
	if err != nil {
		return fmt.Errorf("finding pod veth: %w", err)
	}
	if err := h.LinkSetName(pod, podIfName); err != nil {
		return fmt.Errorf("renaming pod veth: %w", err)
	}
	if err := h.AddrAdd(pod, &netlink.Addr{IPNet: ipNet(sb.IP, m.cfg.PodCIDR.Bits())}); err != nil {
		return fmt.Errorf("addressing pod veth: %w", err)
	}
	if err := h.LinkSetUp(pod); err != nil {
		return fmt.Errorf("bringing pod veth up: %w", err)
	}
	def := &netlink.Route{LinkIndex: pod.Attrs().Index, Gw: sb.Gateway.AsSlice()}
	if err := h.RouteReplace(def); err != nil {
		return fmt.Errorf("adding pod default route: %w", err)
	}
	return nil
}

// setHairpin turns on hairpin mode on the bridge port of host veth name
// (kubelet's --hairpin-mode=hairpin-veth). A pod that reaches itself
// through a Service is DNATed back to its own address; with bridge
// netfilter on (net.bridge.bridge-nf-call-iptables=1, the default of every
// network namespace once br_netfilter is loaded) that happens while the
// packet is being bridged, so it must leave by the port it came in on,
// which the bridge refuses unless the port is in hairpin mode.
func (m *Manager) setHairpin(name string) error {
	l, err := netlink.LinkByName(name)
	if err != nil {
		return fmt.Errorf("finding host veth: %w", err)
	}
	if err := netlink.LinkSetHairpin(l, true); err != nil {
		return fmt.Errorf("setting hairpin mode on %s: %w", name, err)
	}
	return nil
}

// TeardownPod removes the pod's host ports, veth, namespace and address;
// parts already gone are skipped.
func (m *Manager) TeardownPod(uid string) error {
	var errs []error
	if err := m.removeHostPorts(uid); err != nil {
		errs = append(errs, err)
	}
	if l, err := netlink.LinkByName(hostVethName(uid)); err == nil {
		if err := netlink.LinkDel(l); err != nil {
			errs = append(errs, fmt.Errorf("deleting veth: %w", err))
		}
	}
	if err := deleteNetns(m.NetnsPath(uid)); err != nil {
		errs = append(errs, err)
	}
	if err := m.ipam.Release(uid); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Pods returns the UIDs that have a pinned namespace or an address: what a
// restarted agent finds left over.
func (m *Manager) Pods() ([]string, error) {
	seen := map[string]bool{}
	entries, err := os.ReadDir(m.cfg.NetnsDir)
	if err != nil {
		return nil, fmt.Errorf("listing netns dir: %w", err)
	}
	for _, e := range entries {
		seen[e.Name()] = true
	}
	allocs, err := m.ipam.Allocations()
	if err != nil {
		return nil, err
	}
	for uid := range allocs {
		seen[uid] = true
	}
	out := make([]string, 0, len(seen))
	for uid := range seen {
		out = append(out, uid)
	}
	return out, nil
}

func ipNet(ip netip.Addr, bits int) *net.IPNet {
	return &net.IPNet{IP: ip.AsSlice(), Mask: net.CIDRMask(bits, ip.BitLen())}
}

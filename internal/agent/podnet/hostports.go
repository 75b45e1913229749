package podnet

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"sigs.k8s.io/knftables"
)

// hostPortTable is the nftables table (family ip) holding hostPort DNAT.
const hostPortTable = "svcnet-hostports"

// hostPortTimeout bounds one rewrite of the table (nft runs in well under
// a second; a hung nft must not hang a pod's teardown).
const hostPortTimeout = 30 * time.Second

// HostPort is one containerPort of a pod published on the node, as CNI
// portmap publishes it.
type HostPort struct {
	// HostIP is the node address it is published on; the zero Addr (or
	// 0.0.0.0) means every local address.
	HostIP netip.Addr
	// Protocol is "tcp", "udp" or "sctp".
	Protocol string
	HostPort uint16
	// ContainerPort is the port on the pod's IP traffic is sent to.
	ContainerPort uint16
}

// hostPorts is the node's hostPort state: every pod's published ports,
// written as one table so a change is one atomic transaction.
type hostPorts struct {
	mu sync.Mutex
	// pods holds each pod's ports with its IP, by UID.
	pods map[string]podHostPorts
	nft  knftables.Interface
}

type podHostPorts struct {
	ip    netip.Addr
	ports []HostPort
}

// SetHostPorts publishes the ports of pod uid at its address (replacing
// what it published before); no ports unpublishes it. Other pods' ports
// are rewritten unchanged in the same transaction.
func (m *Manager) SetHostPorts(ctx context.Context, uid string, ports []HostPort) error {
	return m.hp.update(ctx, m, false, func(pods map[string]podHostPorts) error {
		if len(ports) == 0 {
			delete(pods, uid)
			return nil
		}
		ip, ok, err := m.ipam.Lookup(uid)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("publishing host ports: pod %s has no address", uid)
		}
		pods[uid] = podHostPorts{ip: ip, ports: slices.Clone(ports)}
		return nil
	})
}

// SyncHostPorts replaces the whole table with the ports of the pods in
// all (by UID): an agent calls it at start with its live pods, so ports
// of pods deleted while no agent ran are unpublished and those of the
// pods it resumes are published before their workers get to them. Pods
// without an address are skipped (their workers publish them once they
// have one).
func (m *Manager) SyncHostPorts(ctx context.Context, all map[string][]HostPort) error {
	return m.hp.update(ctx, m, true, func(pods map[string]podHostPorts) error {
		clear(pods)
		for uid, ports := range all {
			if len(ports) == 0 {
				continue
			}
			ip, ok, err := m.ipam.Lookup(uid)
			if err != nil {
				return err
			}
			if ok {
				pods[uid] = podHostPorts{ip: ip, ports: slices.Clone(ports)}
			}
		}
		return nil
	})
}

// update applies change to the state and rewrites the table (deletes it
// when no port is left); on failure the state is left as it was. Unless
// force, a change from nothing to nothing writes nothing, so nodes without
// host ports need no nft.
func (h *hostPorts) update(ctx context.Context, m *Manager, force bool, change func(map[string]podHostPorts) error) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	next := maps.Clone(h.pods)
	if next == nil {
		next = map[string]podHostPorts{}
	}
	if err := change(next); err != nil {
		return err
	}
	if len(next) == 0 && len(h.pods) == 0 && !force {
		return nil
	}
	if h.nft == nil {
		nft, err := knftables.New(knftables.IPv4Family, hostPortTable)
		if err != nil {
			return fmt.Errorf("host ports: %w", err)
		}
		h.nft = nft
	}
	if hasLoopbackPort(next) {
		// A hostIP of 127.0.0.1 (or every address) is DNATed to the pod in
		// output; the packet then leaves by the bridge with its loopback
		// source, which the kernel allows only with route_localnet (CNI
		// portmap sets it too).
		p := filepath.Join("/proc/sys/net/ipv4/conf", m.cfg.BridgeName, "route_localnet")
		if err := os.WriteFile(p, []byte("1"), 0o644); err != nil {
			m.log.Warn("Failed enabling route_localnet; host ports on 127.0.0.1 are unreachable", "bridge", m.cfg.BridgeName, "err", err)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, hostPortTimeout)
	defer cancel()
	if err := h.nft.Run(ctx, hostPortTransaction(h.nft, m.cfg.BridgeName, next)); err != nil {
		return fmt.Errorf("host ports: %w", err)
	}
	for _, port := range changedUDPPorts(h.pods, next) {
		if err := m.cfg.FlushUDP(ctx, port); err != nil {
			m.log.Warn("Failed deleting conntrack entries of a UDP host port", "port", port, "err", err)
		}
	}
	h.pods = next
	return nil
}

// changedUDPPorts lists the UDP host ports whose mapping differs between
// old and next (added, moved to another pod, removed), as CNI portmap
// flushes them: a conntrack entry made before a mapping keeps a flow's
// packets off it.
func changedUDPPorts(old, next map[string]podHostPorts) []uint16 {
	type key struct {
		hostIP netip.Addr
		port   uint16
	}
	mappings := func(pods map[string]podHostPorts) map[key]netip.AddrPort {
		out := map[key]netip.AddrPort{}
		for _, p := range pods {
			for _, hp := range p.ports {
				if strings.EqualFold(hp.Protocol, "udp") {
					out[key{hp.HostIP, hp.HostPort}] = netip.AddrPortFrom(p.ip, hp.ContainerPort)
				}
			}
		}
		return out
	}
	before, after := mappings(old), mappings(next)
	ports := map[uint16]bool{}
	for _, m := range []map[key]netip.AddrPort{before, after} {
		for k := range m {
			if before[k] != after[k] {
				ports[k.port] = true
			}
		}
	}
	return slices.Sorted(maps.Keys(ports))
}

// flushUDPConntrack deletes the conntrack entries of UDP flows to port;
// without the conntrack tool it does nothing.
func flushUDPConntrack(ctx context.Context, port uint16) error {
	path, err := exec.LookPath("conntrack")
	if err != nil {
		return nil
	}
	out, err := exec.CommandContext(ctx, path, "-D", "-p", "udp", "--orig-port-dst", strconv.Itoa(int(port))).CombinedOutput()
	// Exit status 1 with this message is an empty match.
	if err != nil && !bytes.Contains(out, []byte("0 flow entries have been deleted")) {
		return fmt.Errorf("conntrack: %w: %s", err, bytes.TrimSpace(out))
	}
	return nil
}

func hasLoopbackPort(pods map[string]podHostPorts) bool {
	for _, p := range pods {
		for _, hp := range p.ports {
			if !hp.HostIP.IsValid() || hp.HostIP.IsUnspecified() || hp.HostIP.IsLoopback() {
				return true
			}
		}
	}
	return false
}

// Chains of the host port table.
const (
	hpPrerouting  = "prerouting"
	hpOutput      = "output"
	hpPostrouting = "postrouting"
	hpInput       = "input"
	hpDispatch    = "hostports"
)

// hostPortTransaction rewrites the whole table for pods: traffic to a
// local address (from outside in prerouting, from the node itself in
// output) is DNATed to the pod by hostports; in postrouting, what a pod
// sends to its own hostPort (hairpin) and what the node sends from a
// loopback address is masqueraded, so the answers come back through the
// node.
//
// route_localnet on the bridge would also let a pod reach the node's
// loopback services by sending to 127.0.0.1 through it (CVE-2020-8558):
// input drops what comes in by the bridge for 127.0.0.0/8 unless it answers
// a connection of the node (replies to masqueraded loopback traffic), as
// kube-proxy's KUBE-FIREWALL does.
func hostPortTransaction(nft knftables.Interface, bridge string, pods map[string]podHostPorts) *knftables.Transaction {
	tx := nft.NewTransaction()
	tx.Add(&knftables.Table{Comment: knftables.PtrTo("svcnet pod hostPorts")})
	if len(pods) == 0 {
		tx.Delete(&knftables.Table{})
		return tx
	}
	// nft 1.0.6 rejects "dstnat" on an output chain: numbers throughout.
	for _, c := range []*knftables.Chain{
		{Name: hpPrerouting, Type: knftables.PtrTo(knftables.NATType), Hook: knftables.PtrTo(knftables.PreroutingHook),
			Priority: knftables.PtrTo(knftables.BaseChainPriority("-100"))},
		{Name: hpOutput, Type: knftables.PtrTo(knftables.NATType), Hook: knftables.PtrTo(knftables.OutputHook),
			Priority: knftables.PtrTo(knftables.BaseChainPriority("-100"))},
		{Name: hpPostrouting, Type: knftables.PtrTo(knftables.NATType), Hook: knftables.PtrTo(knftables.PostroutingHook),
			Priority: knftables.PtrTo(knftables.BaseChainPriority("100"))},
		{Name: hpInput, Type: knftables.PtrTo(knftables.FilterType), Hook: knftables.PtrTo(knftables.InputHook),
			Priority: knftables.PtrTo(knftables.BaseChainPriority("0"))},
		{Name: hpDispatch},
	} {
		tx.Add(c)
		tx.Flush(c)
	}
	tx.Add(&knftables.Rule{Chain: hpPrerouting, Rule: "fib daddr type local jump " + hpDispatch})
	tx.Add(&knftables.Rule{Chain: hpOutput, Rule: "fib daddr type local jump " + hpDispatch})
	tx.Add(&knftables.Rule{Chain: hpInput, Rule: fmt.Sprintf("iifname %q ip daddr 127.0.0.0/8 ct state != { established, related } drop", bridge)})
	for _, uid := range slices.Sorted(maps.Keys(pods)) {
		p := pods[uid]
		for _, hp := range p.ports {
			proto := strings.ToLower(hp.Protocol)
			match := fmt.Sprintf("%s dport %d", proto, hp.HostPort)
			if hp.HostIP.IsValid() && !hp.HostIP.IsUnspecified() {
				match = fmt.Sprintf("ip daddr %s %s", hp.HostIP, match)
			}
			tx.Add(&knftables.Rule{Chain: hpDispatch, Rule: fmt.Sprintf("%s dnat to %s:%d", match, p.ip, hp.ContainerPort),
				Comment: knftables.PtrTo(uid)})
			tx.Add(&knftables.Rule{Chain: hpPostrouting, Rule: fmt.Sprintf(
				"ct status dnat ip daddr %s %s dport %d ip saddr { 127.0.0.0/8, %s } masquerade", p.ip, proto, hp.ContainerPort, p.ip),
				Comment: knftables.PtrTo(uid)})
		}
	}
	return tx
}

// removeHostPorts unpublishes pod uid's ports, if it has any.
func (m *Manager) removeHostPorts(uid string) error {
	m.hp.mu.Lock()
	_, ok := m.hp.pods[uid]
	m.hp.mu.Unlock()
	if !ok {
		return nil
	}
	return m.SetHostPorts(context.Background(), uid, nil)
}

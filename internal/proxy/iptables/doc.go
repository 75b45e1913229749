// Package iptables is svcnet's iptables service-proxy backend (mode
// "iptables"), laid out like kube-proxy's iptables mode. IPv4 only.
//
// Every sync writes the nat and filter tables with one
// "iptables-restore --noflush" run. In the nat table KUBE-SERVICES
// dispatches each cluster IP, external IP and load-balancer IP (and, as its
// last rule, every local non-loopback address to KUBE-NODEPORTS) to
// per-port chains: KUBE-SVC-<hash> spreads connections over all usable
// endpoints with "-m statistic --mode random", KUBE-SVL-<hash> over this
// node's endpoints (Local traffic policies), KUBE-EXT-<hash> handles
// external traffic (masquerading unless externalTrafficPolicy is Local),
// KUBE-FW-<hash> admits load-balancer traffic from
// loadBalancerSourceRanges, and KUBE-SEP-<hash> DNATs to one endpoint,
// marking hairpin traffic for masquerade and recording ClientIP affinity
// with the "recent" match. KUBE-MARK-MASQ sets mark 0x4000, which
// KUBE-POSTROUTING turns into MASQUERADE. In the filter table
// KUBE-SERVICES and KUBE-EXTERNAL-SERVICES reject (TCP reset or ICMP
// port-unreachable) traffic to ports without endpoints, or drop it when
// endpoints exist but none is usable here; KUBE-PROXY-FIREWALL drops
// load-balancer traffic the KUBE-FW chain did not admit; KUBE-FORWARD
// drops packets conntrack marks INVALID (unless the kernel tracks TCP
// liberally, see proxy.BackendConfig.DropInvalid) and accepts marked and
// established traffic; KUBE-NODEPORTS accepts the
// health-check node ports of externalTrafficPolicy Local Services.
//
// The top-level chains are hooked from PREROUTING, OUTPUT, POSTROUTING,
// INPUT and FORWARD with rules carrying the comment "svcnet", which
// (*Proxier).Cleanup removes along with every chain the proxier owns.
//
// Per-service chains unchanged since the last successful sync are not
// rewritten on a partial sync; the top-level chains always are. A full
// sync (first sync, periodic, after an error) rewrites everything,
// re-checks the hook rules and deletes leftover chains found by
// iptables-save.
//
// Differences from the nftables mode, logged once at start:
//   - rule evaluation is linear in the number of Services (no maps);
//   - traffic to a wrong port of a cluster IP is rejected and unallocated
//     IPs of the service CIDRs are dropped only for new connections, from
//     the filter table (one rule per cluster IP);
//   - loadBalancerSourceRanges are checked on new connections only, and
//     traffic from the node itself to a load-balancer IP is admitted only
//     when a source range covers the node's chosen source address;
//   - like kube-proxy's iptables mode (and unlike svcnet's nftables mode),
//     with externalTrafficPolicy Local and no local endpoint, pods and the
//     node itself still reach the cluster endpoints through the NodePort,
//     external and load-balancer IPs; other sources are dropped;
//   - IPv6 is not programmed.
package iptables

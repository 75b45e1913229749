// Package userspace is a proxy.Backend that forwards Service traffic in Go,
// for machines where neither nftables nor iptables can be programmed.
//
// Each cluster IP is added as a /32 to a dummy interface (svcnet-lb0 by
// default; creating it needs CAP_NET_ADMIN) and the proxier listens on
// clusterIP:port; NodePorts are served on 0.0.0.0:nodePort (or on the local
// addresses inside NodePortAddresses). Connections are spread round-robin
// over the endpoints proxy.CategorizeEndpoints selects, with ClientIP
// session affinity when asked for. TCP is relayed with io.Copy between
// *net.TCPConn (splice(2) on Linux); UDP with one upstream socket per client
// address, closed after an idle timeout.
//
// Limits, logged once at start: endpoints see the proxy's address, never the
// client's (no source IP preservation, so externalTrafficPolicy Local only
// restricts the endpoint choice); a Service without endpoints has no
// listener, so it is refused rather than dropped where nftables would drop;
// externalIPs and load-balancer IPs are not served; when the interface cannot
// be created only NodePorts are served.
package userspace

// Package proxy is the backend-agnostic half of svcnet's service proxy.
//
// It watches Services, EndpointSlices and this node's Node object through
// client-go informers, turns them into a per-service-port model
// (ServicePort, Endpoint), records which Services changed since the last
// successful sync, applies the endpoint selection rules every backend shares
// (ready, else serving+terminating; Local traffic policies; topology hints),
// and drives a Backend (nftables, iptables, userspace) through a rate-limited
// sync runner. It also serves kube-proxy compatible /healthz and metrics.
package proxy

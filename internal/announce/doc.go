// Package announce makes LoadBalancer IPs reachable from the node network
// without a cloud, as MetalLB's layer-2 mode does: for every ingress IP
// one Ready node is elected (the lowest hash of node name and IP), and that
// node answers ARP requests for the IP on the interfaces whose subnet holds
// it, and sends a gratuitous ARP when it takes the IP over. The proxy on
// the elected node then translates the traffic like any LB IP traffic.
//
// Nodes labelled node.kubernetes.io/exclude-from-external-load-balancers
// never announce. For a Service with externalTrafficPolicy Local only the
// Ready nodes with a ready endpoint of the Service (from its EndpointSlices)
// are candidates, since every other node's proxy drops its external
// traffic; with no such node the IP is not announced at all.
package announce

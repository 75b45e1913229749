// Package loadbalancer is svcnet's built-in LoadBalancer controller, for
// clusters without a cloud provider (as MetalLB's controller or the kube-vip
// cloud provider): it gives each Service of type LoadBalancer an address from
// configured pools and writes it to status.loadBalancer.ingress through the
// status subresource. Announcing the addresses on the node network is the
// agent's job, not this package's.
//
// Addresses are never handed out twice: the set in use is rebuilt from every
// Service's status at start, and an address is freed only when its Service
// is deleted or stops being of type LoadBalancer.
package loadbalancer

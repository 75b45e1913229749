package proxy

import (
	"context"
	"net"
	"strconv"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// ServicePortName identifies one port of one Service.
type ServicePortName struct {
	types.NamespacedName
	// Port is the Service port's name ("" for a single unnamed port).
	Port string
	// Protocol is the port's protocol.
	Protocol v1.Protocol
}

// String renders the name as "namespace/name:port".
func (n ServicePortName) String() string {
	return n.NamespacedName.String() + ":" + n.Port
}

// ServicePort is what a backend needs to program one Service port.
type ServicePort struct {
	Name ServicePortName
	// ClusterIP is the IPv4 cluster IP ("" when the Service has none).
	ClusterIP string
	// Port is the Service port number.
	Port int32
	// Protocol is TCP, UDP or SCTP.
	Protocol v1.Protocol
	// NodePort is the allocated node port (0 when none).
	NodePort int32
	// ExternalIPs are spec.externalIPs (IPv4 only).
	ExternalIPs []string
	// LoadBalancerIPs are status.loadBalancer.ingress[].ip (IPv4 only).
	LoadBalancerIPs []string
	// LoadBalancerSourceRanges are the IPv4 CIDRs of
	// spec.loadBalancerSourceRanges, normalised ("10.0.0.0/8"); when
	// non-empty, traffic to LoadBalancerIPs from other sources is dropped.
	LoadBalancerSourceRanges []string
	// AffinityTimeoutSeconds is the ClientIP affinity timeout; 0 means no affinity.
	AffinityTimeoutSeconds int32
	// ExternalPolicyLocal is true for externally reachable Services with
	// externalTrafficPolicy Local.
	ExternalPolicyLocal bool
	// InternalPolicyLocal is true for internalTrafficPolicy Local.
	InternalPolicyLocal bool
	// TrafficDistribution is spec.trafficDistribution ("" when unset).
	TrafficDistribution string
	// HealthCheckNodePort is spec.healthCheckNodePort (0 when none).
	HealthCheckNodePort int32
}

// ExternallyAccessible reports whether traffic from outside the cluster can
// reach the port (NodePort, externalIPs or load-balancer IPs).
func (s *ServicePort) ExternallyAccessible() bool {
	return s.NodePort != 0 || len(s.ExternalIPs) > 0 || len(s.LoadBalancerIPs) > 0
}

// UsesClusterEndpoints reports whether some traffic to the port is spread
// over endpoints on every node.
func (s *ServicePort) UsesClusterEndpoints() bool {
	return !s.InternalPolicyLocal || (s.ExternallyAccessible() && !s.ExternalPolicyLocal)
}

// UsesLocalEndpoints reports whether some traffic to the port may only go to
// endpoints on this node.
func (s *ServicePort) UsesLocalEndpoints() bool {
	return s.InternalPolicyLocal || (s.ExternalPolicyLocal && s.ExternallyAccessible())
}

// Endpoint is one backend address of a Service port.
type Endpoint struct {
	IP   string
	Port int32
	// Ready, Serving and Terminating are the EndpointSlice conditions with
	// upstream's defaults applied (nil ready => true, nil serving => ready).
	Ready       bool
	Serving     bool
	Terminating bool
	NodeName    string
	Zone        string
	// ZoneHints and NodeHints are hints.forZones and hints.forNodes.
	ZoneHints []string
	NodeHints []string
	// IsLocal is true when NodeName is this proxy's node.
	IsLocal bool
}

// String renders the endpoint as "ip:port".
func (e Endpoint) String() string {
	return net.JoinHostPort(e.IP, strconv.Itoa(int(e.Port)))
}

// NodeInfo is what the proxy knows about its own node.
type NodeInfo struct {
	Name string
	Zone string
}

// Service is the model of one Service: its ports and, per port, all of its
// endpoints (before selection). Entries are immutable once published.
type Service struct {
	Ports     []*ServicePort
	Endpoints map[ServicePortName][]Endpoint
}

// State is one snapshot handed to a Backend.
type State struct {
	Node NodeInfo
	// Services holds every Service with at least one proxied port.
	Services map[types.NamespacedName]*Service
	// Changed names the Services (present or deleted) whose ports or
	// endpoints changed since the last successful sync.
	Changed map[types.NamespacedName]bool
	// Full asks the backend to recompute and rewrite everything.
	Full bool
}

// Backend programs a data plane from a State. Sync is called from a single
// goroutine; an error makes the runner retry with a full sync.
type Backend interface {
	Sync(ctx context.Context, state *State) error
}

// ServicePortCount returns the number of ports over all Services.
func (s *State) ServicePortCount() int {
	n := 0
	for _, svc := range s.Services {
		n += len(svc.Ports)
	}
	return n
}

package proxytest

import (
	v1 "k8s.io/api/core/v1"
	discovery "k8s.io/api/discovery/v1"
)

func nodePort(np int32) func(*v1.Service) {
	return func(s *v1.Service) {
		s.Spec.Type = v1.ServiceTypeNodePort
		s.Spec.Ports[0].NodePort = np
	}
}

func etpLocal(s *v1.Service) { s.Spec.ExternalTrafficPolicy = v1.ServiceExternalTrafficPolicyLocal }

func p80() []SlicePort { return []SlicePort{{Name: "p80", Port: 8080}} }

func tcp(src, dst string, port int) Packet {
	return Packet{SrcIP: src, DstIP: dst, DstPort: port, Protocol: v1.ProtocolTCP}
}

func dnat(masq bool, eps ...string) Outcome {
	return Outcome{Verdict: DNAT, Endpoints: eps, Masquerade: masq}
}

// Flows is the shared packet-flow table.
func Flows() Scenario {
	local := v1.ServiceInternalTrafficPolicyLocal
	preferClose := v1.ServiceTrafficDistributionPreferClose
	udp := v1.ProtocolUDP
	return Scenario{
		Services: []*v1.Service{
			Service("ns1", "web", "10.96.0.10", []int32{80}),
			Service("ns1", "noeps", "10.96.0.11", []int32{80}),
			Service("ns1", "term", "10.96.0.12", []int32{80}),
			Service("ns2", "np", "10.96.0.20", []int32{80}, nodePort(30080)),
			Service("ns2", "nplocal", "10.96.0.21", []int32{80}, nodePort(30081), etpLocal),
			Service("ns2", "nplocalnone", "10.96.0.22", []int32{80}, nodePort(30082), etpLocal),
			Service("ns3", "ext", "10.96.0.30", []int32{80}, func(s *v1.Service) { s.Spec.ExternalIPs = []string{"198.51.100.10"} }),
			Service("ns3", "lb", "10.96.0.33", []int32{80}, nodePort(30083), func(s *v1.Service) {
				s.Spec.Type = v1.ServiceTypeLoadBalancer
				s.Status.LoadBalancer.Ingress = []v1.LoadBalancerIngress{{IP: "198.51.100.20"}}
			}),
			Service("ns3", "lbfw", "10.96.0.34", []int32{80}, nodePort(30084), func(s *v1.Service) {
				s.Spec.Type = v1.ServiceTypeLoadBalancer
				s.Spec.LoadBalancerSourceRanges = []string{"203.0.113.0/24", "10.244.0.0/16"}
				s.Status.LoadBalancer.Ingress = []v1.LoadBalancerIngress{{IP: "198.51.100.21"}}
			}),
			Service("ns3", "itp", "10.96.0.31", []int32{80}, func(s *v1.Service) { s.Spec.InternalTrafficPolicy = &local }),
			Service("ns3", "affinity", "10.96.0.32", []int32{80}, func(s *v1.Service) { s.Spec.SessionAffinity = v1.ServiceAffinityClientIP }),
			Service("ns4", "topo", "10.96.0.40", []int32{80}, func(s *v1.Service) { s.Spec.TrafficDistribution = &preferClose }),
			Service("ns4", "dns", "10.96.0.53", nil, func(s *v1.Service) {
				s.Spec.Ports = []v1.ServicePort{
					{Name: "dns", Port: 53, Protocol: v1.ProtocolUDP},
					{Name: "dns-tcp", Port: 53, Protocol: v1.ProtocolTCP},
				}
			}),
			Service("ns4", "hairpin", "10.96.0.41", []int32{80}),
			Service("ns4", "headless", "None", []int32{80}),
		},
		Slices: []*discovery.EndpointSlice{
			Slice("ns1", "web", "web-1", p80(),
				EP{IP: "10.244.0.5", Node: NodeName}, EP{IP: "10.244.1.5", Node: "node-b"}, EP{IP: "10.244.1.6", Node: "node-b", NotReady: true, NotServing: true}),
			Slice("ns1", "term", "term-1", p80(),
				EP{IP: "10.244.1.7", Node: "node-b", NotReady: true, Terminating: true},
				EP{IP: "10.244.1.8", Node: "node-b", NotReady: true, NotServing: true, Terminating: true}),
			Slice("ns2", "np", "np-1", p80(), EP{IP: "10.244.1.5", Node: "node-b"}),
			Slice("ns2", "nplocal", "nplocal-1", p80(), EP{IP: "10.244.0.6", Node: NodeName}, EP{IP: "10.244.1.6", Node: "node-b"}),
			Slice("ns2", "nplocalnone", "nplocalnone-1", p80(), EP{IP: "10.244.1.16", Node: "node-b"}),
			Slice("ns3", "ext", "ext-1", p80(), EP{IP: "10.244.1.9", Node: "node-b"}),
			Slice("ns3", "lb", "lb-1", p80(), EP{IP: "10.244.1.19", Node: "node-b"}),
			Slice("ns3", "lbfw", "lbfw-1", p80(), EP{IP: "10.244.1.21", Node: "node-b"}),
			Slice("ns3", "itp", "itp-1", p80(), EP{IP: "10.244.1.31", Node: "node-b"}),
			Slice("ns3", "affinity", "affinity-1", p80(), EP{IP: "10.244.1.32", Node: "node-b"}, EP{IP: "10.244.0.32", Node: NodeName}),
			Slice("ns4", "topo", "topo-1", p80(),
				EP{IP: "10.244.0.20", Node: NodeName, Zone: NodeZone, ZoneHints: []string{NodeZone}},
				EP{IP: "10.244.1.20", Node: "node-b", Zone: "zone-b", ZoneHints: []string{"zone-b"}}),
			Slice("ns4", "dns", "dns-1", []SlicePort{{Name: "dns", Port: 5353, Protocol: udp}, {Name: "dns-tcp", Port: 5353}},
				EP{IP: "10.244.1.53", Node: "node-b"}),
			Slice("ns4", "hairpin", "hairpin-1", p80(), EP{IP: "10.244.0.41", Node: NodeName}),
		},
		Cases: []Case{
			{"pod to cluster IP", tcp(LocalPod, "10.96.0.10", 80), dnat(false, "10.244.0.5:8080", "10.244.1.5:8080")},
			{"remote pod to cluster IP", tcp(RemotePod, "10.96.0.10", 80), dnat(false, "10.244.0.5:8080", "10.244.1.5:8080")},
			{"host to cluster IP is masqueraded", tcp(NodeIP, "10.96.0.10", 80), dnat(true, "10.244.0.5:8080", "10.244.1.5:8080")},
			{"off-cluster to cluster IP is masqueraded", tcp(OffCluster, "10.96.0.10", 80), dnat(true, "10.244.0.5:8080", "10.244.1.5:8080")},
			{"wrong port of cluster IP", tcp(LocalPod, "10.96.0.10", 81), Outcome{Verdict: Reject}},
			{"wrong protocol of cluster IP", Packet{SrcIP: LocalPod, DstIP: "10.96.0.10", DstPort: 80, Protocol: v1.ProtocolUDP}, Outcome{Verdict: Reject}},
			{"unallocated cluster IP", tcp(LocalPod, "10.96.0.99", 80), Outcome{Verdict: Drop}},
			{"headless IP is not proxied", tcp(LocalPod, "10.96.0.200", 80), Outcome{Verdict: Drop}},
			{"no endpoints", tcp(LocalPod, "10.96.0.11", 80), Outcome{Verdict: Reject}},
			{"serving terminating fallback", tcp(LocalPod, "10.96.0.12", 80), dnat(false, "10.244.1.7:8080")},
			{"off-cluster to node port", tcp(OffCluster, NodeIP, 30080), dnat(true, "10.244.1.5:8080")},
			{"pod to node port", tcp(LocalPod, NodeIP, 30080), dnat(false, "10.244.1.5:8080")},
			{"host to localhost node port", tcp("127.0.0.1", "127.0.0.1", 30080), Outcome{Verdict: Local}},
			{"node port Local: only local endpoints, no SNAT", tcp(OffCluster, NodeIP, 30081), dnat(false, "10.244.0.6:8080")},
			{"node port Local: cluster IP uses all", tcp(LocalPod, "10.96.0.21", 80), dnat(false, "10.244.0.6:8080", "10.244.1.6:8080")},
			{"node port Local: pod short-circuits to cluster", tcp(LocalPod, NodeIP, 30081), dnat(false, "10.244.0.6:8080", "10.244.1.6:8080")},
			{"node port Local without local endpoints", tcp(OffCluster, NodeIP, 30082), Outcome{Verdict: Drop}},
			{"node port Local without local endpoints, cluster IP", tcp(LocalPod, "10.96.0.22", 80), dnat(false, "10.244.1.16:8080")},
			{"external IP", tcp(OffCluster, "198.51.100.10", 80), dnat(true, "10.244.1.9:8080")},
			{"load balancer IP", tcp(OffCluster, "198.51.100.20", 80), dnat(true, "10.244.1.19:8080")},
			{"load balancer node port", tcp(OffCluster, NodeIP, 30083), dnat(true, "10.244.1.19:8080")},
			{"load balancer source range allows", tcp(OffCluster, "198.51.100.21", 80), dnat(true, "10.244.1.21:8080")},
			{"load balancer source range drops others", tcp(BlockedClient, "198.51.100.21", 80), Outcome{Verdict: Drop}},
			{"source ranges do not guard the node port", tcp(BlockedClient, NodeIP, 30084), dnat(true, "10.244.1.21:8080")},
			{"source ranges do not guard the cluster IP", tcp(LocalPod, "10.96.0.34", 80), dnat(false, "10.244.1.21:8080")},
			{"internal policy Local without local endpoints", tcp(LocalPod, "10.96.0.31", 80), Outcome{Verdict: Drop}},
			{"session affinity", tcp(LocalPod, "10.96.0.32", 80), dnat(false, "10.244.0.32:8080", "10.244.1.32:8080")},
			{"topology hints", tcp(LocalPod, "10.96.0.40", 80), dnat(false, "10.244.0.20:8080")},
			{"udp on shared port", Packet{SrcIP: LocalPod, DstIP: "10.96.0.53", DstPort: 53, Protocol: v1.ProtocolUDP}, dnat(false, "10.244.1.53:5353")},
			{"tcp on shared port", tcp(LocalPod, "10.96.0.53", 53), dnat(false, "10.244.1.53:5353")},
			{"hairpin is masqueraded", tcp("10.244.0.41", "10.96.0.41", 80), dnat(true, "10.244.0.41:8080")},
			{"local traffic to node", tcp(OffCluster, NodeIP, 22), Outcome{Verdict: Local}},
			{"pod to pod is forwarded untouched", tcp(OffCluster, "10.244.1.5", 8080), Outcome{Verdict: Forward}},
			// A pod's out-of-window segment to a client that reached it
			// through a Service would arrive un-NATed and be reset.
			{"invalid forwarded packet is dropped", Packet{SrcIP: "10.244.1.5", DstIP: LocalPod, DstPort: 40000,
				Protocol: v1.ProtocolTCP, Invalid: true}, Outcome{Verdict: Drop}},
		},
	}
}

package proxytest

import (
	"slices"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "k8s.io/api/core/v1"
	discovery "k8s.io/api/discovery/v1"

	"github.com/svcnet/svcnet/internal/proxy"
)

// Verdict is the fate of a packet.
type Verdict string

// Verdicts a tracer can report.
const (
	// DNAT: translated to an endpoint and forwarded/delivered there.
	DNAT Verdict = "DNAT"
	// Reject: refused with ICMP port-unreachable or TCP reset.
	Reject Verdict = "REJECT"
	// Drop: silently dropped.
	Drop Verdict = "DROP"
	// Local: delivered unchanged to a local socket.
	Local Verdict = "LOCAL"
	// Forward: forwarded unchanged.
	Forward Verdict = "FORWARD"
)

// Packet is the first packet of a connection or, when Invalid, a packet
// conntrack marks INVALID (such as a TCP segment outside the window of its
// connection), which no NAT rule sees.
type Packet struct {
	SrcIP    string
	DstIP    string
	DstPort  int
	Protocol v1.Protocol
	Invalid  bool
}

// Outcome is what a backend does with a Packet over all load-balancing
// choices: the set of endpoints it may pick and whether the source is
// masqueraded (which must not depend on the choice).
type Outcome struct {
	Verdict    Verdict
	Endpoints  []string
	Masquerade bool
}

// Branch is one possible fate of a packet (one load-balancing choice).
type Branch struct {
	Verdict    Verdict
	Endpoint   string
	Masquerade bool
}

// Tracer traces a packet through a backend's programmed state.
type Tracer interface {
	Trace(t *testing.T, p Packet) []Branch
}

// Case is one row of the packet-flow table.
type Case struct {
	Name   string
	Packet Packet
	Want   Outcome
}

// Cluster addresses used by the table.
const (
	NodeName    = "node-a"
	NodeZone    = "zone-a"
	NodeIP      = "192.168.0.2"
	ClusterCIDR = "10.244.0.0/16"
	ServiceCIDR = "10.96.0.0/16"
	// OffCluster is a client outside the cluster.
	OffCluster = "203.0.113.5"
	// BlockedClient is an off-cluster client outside every
	// loadBalancerSourceRanges of the table.
	BlockedClient = "198.18.0.7"
	// LocalPod and RemotePod are pods on this node and on another node.
	LocalPod  = "10.244.0.10"
	RemotePod = "10.244.1.10"
)

// Scenario is a whole table: the objects and the packets.
type Scenario struct {
	Services []*v1.Service
	Slices   []*discovery.EndpointSlice
	Cases    []Case
}

// State builds the proxy State for the scenario as node NodeName in zone NodeZone.
func (s Scenario) State(opts proxy.ServiceOptions) *proxy.State {
	return s.Tracker(opts).Snapshot(true).State
}

// Tracker returns a change tracker of node NodeName in zone NodeZone that
// holds the scenario's Services and EndpointSlices, for tests that go on
// changing them.
func (s Scenario) Tracker(opts proxy.ServiceOptions) *proxy.Tracker {
	tr := proxy.NewTracker(NodeName, opts)
	tr.SetNodeZone(NodeZone)
	for _, svc := range s.Services {
		tr.SetService(svc)
	}
	for _, sl := range s.Slices {
		tr.SetEndpointSlice(sl)
	}
	return tr
}

// Run checks every case against the tracer.
func (s Scenario) Run(t *testing.T, tracer Tracer) {
	t.Helper()
	for _, tc := range s.Cases {
		t.Run(tc.Name, func(t *testing.T) {
			got := Combine(t, tracer.Trace(t, tc.Packet))
			if diff := cmp.Diff(tc.Want, got); diff != "" {
				t.Errorf("packet %+v: outcome mismatch (-want +got):\n%s", tc.Packet, diff)
			}
		})
	}
}

// Combine folds branches into an Outcome, failing the test when branches
// disagree on verdict or masquerading.
func Combine(t *testing.T, branches []Branch) Outcome {
	t.Helper()
	if len(branches) == 0 {
		t.Fatalf("tracer returned no branch")
	}
	out := Outcome{Verdict: branches[0].Verdict, Masquerade: branches[0].Masquerade}
	for _, b := range branches {
		if b.Verdict != out.Verdict || b.Masquerade != out.Masquerade {
			t.Fatalf("branches disagree: %+v", branches)
		}
		if b.Endpoint != "" && !slices.Contains(out.Endpoints, b.Endpoint) {
			out.Endpoints = append(out.Endpoints, b.Endpoint)
		}
	}
	sort.Strings(out.Endpoints)
	return out
}

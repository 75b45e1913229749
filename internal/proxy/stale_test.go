package proxy

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

func TestStaleUDPFlows(t *testing.T) {
	name := types.NamespacedName{Namespace: "ns", Name: "dns"}
	port := func(proto v1.Protocol, nodePort int32) *ServicePort {
		return &ServicePort{Name: ServicePortName{NamespacedName: name, Port: "dns", Protocol: proto},
			ClusterIP: "10.96.0.10", Port: 53, Protocol: proto, NodePort: nodePort, ExternalIPs: []string{"198.51.100.1"}}
	}
	ready := func(ip string) Endpoint {
		return Endpoint{IP: ip, Port: 5353, Ready: true, Serving: true}
	}
	state := func(sp *ServicePort, eps ...Endpoint) *State {
		st := &State{Services: map[types.NamespacedName]*Service{}, Changed: map[types.NamespacedName]bool{name: true}}
		if sp != nil {
			st.Services[name] = &Service{Ports: []*ServicePort{sp}, Endpoints: map[ServicePortName][]Endpoint{sp.Name: eps}}
		}
		return st
	}
	tests := []struct {
		name      string
		old, next *State
		want      []StaleFlow
	}{
		{name: "first sync", old: nil, next: state(port(v1.ProtocolUDP, 0), ready("10.244.0.1"))},
		{name: "unchanged", old: state(port(v1.ProtocolUDP, 0), ready("10.244.0.1")),
			next: state(port(v1.ProtocolUDP, 0), ready("10.244.0.1"))},
		{name: "endpoint removed", old: state(port(v1.ProtocolUDP, 30053), ready("10.244.0.1"), ready("10.244.0.2")),
			next: state(port(v1.ProtocolUDP, 30053), ready("10.244.0.2")),
			want: []StaleFlow{
				{OrigDst: "10.96.0.10", Port: 53, Endpoint: "10.244.0.1"},
				{OrigDst: "198.51.100.1", Port: 53, Endpoint: "10.244.0.1"},
				{Port: 30053, Endpoint: "10.244.0.1"},
			}},
		{name: "endpoint became not ready", old: state(port(v1.ProtocolUDP, 0), ready("10.244.0.1"), ready("10.244.0.2")),
			next: state(port(v1.ProtocolUDP, 0), Endpoint{IP: "10.244.0.1", Port: 5353}, ready("10.244.0.2")),
			want: []StaleFlow{
				{OrigDst: "10.96.0.10", Port: 53, Endpoint: "10.244.0.1"},
				{OrigDst: "198.51.100.1", Port: 53, Endpoint: "10.244.0.1"},
			}},
		{name: "service deleted", old: state(port(v1.ProtocolUDP, 0), ready("10.244.0.1")), next: state(nil),
			want: []StaleFlow{
				{OrigDst: "10.96.0.10", Port: 53, Endpoint: "10.244.0.1"},
				{OrigDst: "198.51.100.1", Port: 53, Endpoint: "10.244.0.1"},
			}},
		{name: "first endpoint", old: state(port(v1.ProtocolUDP, 30053)), next: state(port(v1.ProtocolUDP, 30053), ready("10.244.0.1")),
			want: []StaleFlow{{OrigDst: "10.96.0.10", Port: 53}, {OrigDst: "198.51.100.1", Port: 53}, {Port: 30053}}},
		{name: "tcp is ignored", old: state(port(v1.ProtocolTCP, 0), ready("10.244.0.1")), next: state(port(v1.ProtocolTCP, 0))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := StaleUDPFlows(tc.old, tc.next)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("stale flows mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

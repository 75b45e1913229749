package proxytest

import (
	"strconv"

	v1 "k8s.io/api/core/v1"
	discovery "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Service returns a ClusterIP Service with one TCP port "p<port>" per port
// (port -> targetPort 8080), modified by the optional tweaks.
func Service(ns, name, clusterIP string, ports []int32, tweaks ...func(*v1.Service)) *v1.Service {
	svc := &v1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: v1.ServiceSpec{
			Type:       v1.ServiceTypeClusterIP,
			ClusterIP:  clusterIP,
			ClusterIPs: []string{clusterIP},
		},
	}
	for _, p := range ports {
		svc.Spec.Ports = append(svc.Spec.Ports, v1.ServicePort{
			Name: "p" + strconv.Itoa(int(p)), Port: p, Protocol: v1.ProtocolTCP, TargetPort: intstr.FromInt32(8080),
		})
	}
	for _, t := range tweaks {
		t(svc)
	}
	return svc
}

// EP describes one endpoint for Slice.
type EP struct {
	IP          string
	Node        string
	Zone        string
	NotReady    bool
	NotServing  bool
	Terminating bool
	ZoneHints   []string
	NodeHints   []string
}

// SlicePort is one port of an EndpointSlice.
type SlicePort struct {
	Name     string
	Port     int32
	Protocol v1.Protocol
}

// Slice returns an IPv4 EndpointSlice for the named Service.
func Slice(ns, svcName, sliceName string, ports []SlicePort, eps ...EP) *discovery.EndpointSlice {
	s := &discovery.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: ns, Name: sliceName,
			Labels: map[string]string{discovery.LabelServiceName: svcName},
		},
		AddressType: discovery.AddressTypeIPv4,
	}
	for _, p := range ports {
		proto := p.Protocol
		if proto == "" {
			proto = v1.ProtocolTCP
		}
		s.Ports = append(s.Ports, discovery.EndpointPort{Name: ptr(p.Name), Port: ptr(p.Port), Protocol: ptr(proto)})
	}
	for _, e := range eps {
		ep := discovery.Endpoint{
			Addresses: []string{e.IP},
			Conditions: discovery.EndpointConditions{
				Ready:       ptr(!e.NotReady),
				Serving:     ptr(!e.NotServing),
				Terminating: ptr(e.Terminating),
			},
		}
		if e.Node != "" {
			ep.NodeName = ptr(e.Node)
		}
		if e.Zone != "" {
			ep.Zone = ptr(e.Zone)
		}
		if len(e.ZoneHints) > 0 || len(e.NodeHints) > 0 {
			ep.Hints = &discovery.EndpointHints{}
			for _, z := range e.ZoneHints {
				ep.Hints.ForZones = append(ep.Hints.ForZones, discovery.ForZone{Name: z})
			}
			for _, n := range e.NodeHints {
				ep.Hints.ForNodes = append(ep.Hints.ForNodes, discovery.ForNode{Name: n})
			}
		}
		s.Endpoints = append(s.Endpoints, ep)
	}
	return s
}

func ptr[T any](v T) *T { return &v }

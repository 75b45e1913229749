package endpoints

import (
	"net"

	corev1 "k8s.io/api/core/v1"

	"github.com/svcnet/svcnet/internal/controller/endpointslice/podendpoint"
	endpointsreg "github.com/svcnet/svcnet/internal/registry/core/endpoints"
)

// desiredSubsets returns the subsets of a selector Service in canonical
// form, at most maxAddresses addresses in all, and whether addresses were
// dropped to stay under that cap.
func desiredSubsets(svc *corev1.Service, pods []*corev1.Pod, maxAddresses int) ([]corev1.EndpointSubset, bool) {
	tolerate := svc.Spec.PublishNotReadyAddresses
	var raw []corev1.EndpointSubset
	for _, pod := range pods {
		// Terminating pods are published only with
		// publishNotReadyAddresses, as upstream does.
		if !podendpoint.ShouldBeInEndpoints(pod, tolerate) {
			continue
		}
		addr, ok := podAddress(svc, pod)
		if !ok {
			continue
		}
		ready := tolerate || podendpoint.IsReady(pod)
		add := func(ports []corev1.EndpointPort) {
			ss := corev1.EndpointSubset{Ports: ports}
			if ready {
				ss.Addresses = []corev1.EndpointAddress{addr}
			} else {
				ss.NotReadyAddresses = []corev1.EndpointAddress{addr}
			}
			raw = append(raw, ss)
		}
		if len(svc.Spec.Ports) == 0 {
			// Only headless Services may have port-less endpoints.
			if svc.Spec.ClusterIP == corev1.ClusterIPNone {
				add(nil)
			}
			continue
		}
		for i := range svc.Spec.Ports {
			sp := &svc.Spec.Ports[i]
			num, err := podendpoint.FindPort(pod, sp)
			if err != nil {
				continue
			}
			add([]corev1.EndpointPort{{Name: sp.Name, Port: num, Protocol: sp.Protocol, AppProtocol: sp.AppProtocol}})
		}
	}
	subsets := endpointsreg.RepackSubsets(raw)
	subsets, truncated := truncate(subsets, maxAddresses)
	if truncated {
		// Truncation can leave two subsets with the same addresses;
		// store them as the API server would.
		subsets = endpointsreg.RepackSubsets(subsets)
	}
	return subsets, truncated
}

// podAddress returns the address of a Pod for a Service: the Pod IP of the
// Service's primary IP family, with the node name, the hostname when the
// Pod names the Service as its subdomain, and a reference to the Pod.
func podAddress(svc *corev1.Service, pod *corev1.Pod) (corev1.EndpointAddress, bool) {
	var wantV6 bool
	switch {
	case len(svc.Spec.IPFamilies) > 0:
		wantV6 = svc.Spec.IPFamilies[0] == corev1.IPv6Protocol
	case svc.Spec.ClusterIP != "" && svc.Spec.ClusterIP != corev1.ClusterIPNone:
		wantV6 = isIPv6(svc.Spec.ClusterIP)
	default:
		wantV6 = isIPv6(pod.Status.PodIP)
	}
	ips := pod.Status.PodIPs
	if len(ips) == 0 && pod.Status.PodIP != "" {
		ips = []corev1.PodIP{{IP: pod.Status.PodIP}}
	}
	for _, ip := range ips {
		if net.ParseIP(ip.IP) == nil || isIPv6(ip.IP) != wantV6 {
			continue
		}
		addr := corev1.EndpointAddress{
			IP: ip.IP,
			TargetRef: &corev1.ObjectReference{
				Kind:      "Pod",
				Namespace: pod.Namespace,
				Name:      pod.Name,
				UID:       pod.UID,
			},
		}
		if pod.Spec.NodeName != "" {
			node := pod.Spec.NodeName
			addr.NodeName = &node
		}
		if podendpoint.ShouldSetHostname(pod, svc) {
			addr.Hostname = pod.Spec.Hostname
		}
		return addr, true
	}
	return corev1.EndpointAddress{}, false
}

func isIPv6(s string) bool {
	ip := net.ParseIP(s)
	return ip != nil && ip.To4() == nil
}

// truncate caps the addresses of subsets at max, as upstream does: ready
// addresses win over not-ready ones, and each subset keeps a share of the
// room proportional to its size (rounded up, the last ones getting what is
// left). Subsets left without addresses are dropped. It reports whether
// anything was cut.
func truncate(subsets []corev1.EndpointSubset, max int) ([]corev1.EndpointSubset, bool) {
	var ready, notReady int
	for _, ss := range subsets {
		ready += len(ss.Addresses)
		notReady += len(ss.NotReadyAddresses)
	}
	if ready+notReady <= max {
		return subsets, false
	}
	if ready > max {
		room := max
		for i := range subsets {
			n := share(len(subsets[i].Addresses), ready, max, &room)
			subsets[i].Addresses = subsets[i].Addresses[:n]
			subsets[i].NotReadyAddresses = nil
		}
	} else {
		room := max - ready
		for i := range subsets {
			n := share(len(subsets[i].NotReadyAddresses), notReady, max-ready, &room)
			subsets[i].NotReadyAddresses = subsets[i].NotReadyAddresses[:n]
		}
	}
	kept := subsets[:0]
	for _, ss := range subsets {
		if len(ss.Addresses)+len(ss.NotReadyAddresses) > 0 {
			kept = append(kept, ss)
		}
	}
	return kept, true
}

// share returns how many of n items (out of total) fit in limit, rounded
// up, bounded by the room left (which it reduces).
func share(n, total, limit int, room *int) int {
	if total == 0 {
		return 0
	}
	k := (n*limit + total - 1) / total
	k = min(k, n, *room)
	*room -= k
	return k
}

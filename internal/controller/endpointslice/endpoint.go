package endpointslice

import (
	"cmp"
	"fmt"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discovery "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/svcnet/svcnet/internal/controller/endpointslice/podendpoint"
)

// podToEndpoint builds the endpoint of a Pod for one address type. node may
// be nil when the Pod's Node is unknown.
func podToEndpoint(pod *corev1.Pod, node *corev1.Node, svc *corev1.Service, addressType discovery.AddressType) discovery.Endpoint {
	serving := podendpoint.IsReady(pod)
	terminating := pod.DeletionTimestamp != nil
	// Ready is never true for a terminating Pod unless the Service asks
	// for not-ready addresses to be published.
	ready := svc.Spec.PublishNotReadyAddresses || (serving && !terminating)
	ep := discovery.Endpoint{
		Addresses: podAddresses(pod, addressType),
		Conditions: discovery.EndpointConditions{
			Ready:       &ready,
			Serving:     &serving,
			Terminating: &terminating,
		},
		TargetRef: &corev1.ObjectReference{
			Kind:      "Pod",
			Namespace: pod.Namespace,
			Name:      pod.Name,
			UID:       pod.UID,
		},
	}
	if pod.Spec.NodeName != "" {
		nodeName := pod.Spec.NodeName
		ep.NodeName = &nodeName
	}
	if node != nil && node.Labels[corev1.LabelTopologyZone] != "" {
		zone := node.Labels[corev1.LabelTopologyZone]
		ep.Zone = &zone
	}
	if podendpoint.ShouldSetHostname(pod, svc) {
		hostname := pod.Spec.Hostname
		ep.Hostname = &hostname
	}
	return ep
}

// podAddresses returns the Pod IPs of one family in canonical form.
func podAddresses(pod *corev1.Pod, addressType discovery.AddressType) []string {
	ips := make([]string, 0, len(pod.Status.PodIPs))
	for _, p := range pod.Status.PodIPs {
		ips = append(ips, p.IP)
	}
	if len(ips) == 0 && pod.Status.PodIP != "" {
		ips = append(ips, pod.Status.PodIP)
	}
	addrs := []string{}
	for _, s := range ips {
		ip := net.ParseIP(s)
		if ip == nil {
			continue
		}
		isV6 := ip.To4() == nil
		if isV6 == (addressType == discovery.AddressTypeIPv6) {
			addrs = append(addrs, ip.String())
		}
	}
	return addrs
}

// endpointPorts resolves the Service ports for one Pod. Ports whose named
// targetPort the Pod does not define are left out.
func endpointPorts(svc *corev1.Service, pod *corev1.Pod) []discovery.EndpointPort {
	ports := []discovery.EndpointPort{}
	for i := range svc.Spec.Ports {
		sp := &svc.Spec.Ports[i]
		num, err := podendpoint.FindPort(pod, sp)
		if err != nil {
			continue
		}
		name, proto := sp.Name, sp.Protocol
		ports = append(ports, discovery.EndpointPort{
			Name:        &name,
			Port:        &num,
			Protocol:    &proto,
			AppProtocol: sp.AppProtocol,
		})
	}
	return ports
}

// portKey identifies a set of ports regardless of order.
func portKey(ports []discovery.EndpointPort) string {
	parts := make([]string, 0, len(ports))
	for _, p := range ports {
		parts = append(parts, fmt.Sprintf("%s/%s/%s/%s", deref(p.Name), deref(p.Protocol), int32Str(p.Port), deref(p.AppProtocol)))
	}
	slices.Sort(parts)
	return strings.Join(parts, ",")
}

func deref[T ~string](p *T) string {
	if p == nil {
		return "<nil>"
	}
	return string(*p)
}

func int32Str(p *int32) string {
	if p == nil {
		return "<nil>"
	}
	return strconv.Itoa(int(*p))
}

// endpointKey identifies an endpoint across versions: its addresses, its
// hostname and the object it points at.
func endpointKey(ep *discovery.Endpoint) string {
	var b strings.Builder
	b.WriteString(strings.Join(ep.Addresses, ","))
	b.WriteByte('|')
	if ep.Hostname != nil {
		b.WriteString(*ep.Hostname)
	}
	b.WriteByte('|')
	if ep.TargetRef != nil {
		b.WriteString(ep.TargetRef.Namespace)
		b.WriteByte('/')
		b.WriteString(ep.TargetRef.Name)
	}
	return b.String()
}

// endpointEqualBeyondKey compares what endpointKey leaves out, ignoring the
// target's resourceVersion and the hints (hints are reconciled apart).
func endpointEqualBeyondKey(a, b *discovery.Endpoint) bool {
	if !ptrEqual(a.NodeName, b.NodeName) || !ptrEqual(a.Zone, b.Zone) ||
		!ptrEqual(a.Conditions.Ready, b.Conditions.Ready) ||
		!ptrEqual(a.Conditions.Serving, b.Conditions.Serving) ||
		!ptrEqual(a.Conditions.Terminating, b.Conditions.Terminating) {
		return false
	}
	if (a.TargetRef == nil) != (b.TargetRef == nil) {
		return false
	}
	if a.TargetRef != nil {
		ra, rb := *a.TargetRef, *b.TargetRef
		ra.ResourceVersion, rb.ResourceVersion = "", ""
		if ra != rb {
			return false
		}
	}
	return true
}

func ptrEqual[T comparable](a, b *T) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// isReservedLabel reports whether a Service label may not be copied to its
// slices because the controller owns that key.
func isReservedLabel(key string) bool {
	return key == discovery.LabelServiceName || key == discovery.LabelManagedBy || key == corev1.IsHeadlessService
}

// sliceLabels returns the labels of every slice of svc: the Service's own
// labels except the reserved ones, the headless marker, the Service name and
// the manager.
func sliceLabels(svc *corev1.Service, controllerName string) map[string]string {
	l := make(map[string]string, len(svc.Labels)+3)
	for k, v := range svc.Labels {
		if !isReservedLabel(k) {
			l[k] = v
		}
	}
	if svc.Spec.ClusterIP == corev1.ClusterIPNone || svc.Spec.ClusterIP == "" {
		l[corev1.IsHeadlessService] = ""
	}
	l[discovery.LabelServiceName] = svc.Name
	l[discovery.LabelManagedBy] = controllerName
	return l
}

// serviceOwnerRef is the controller reference every slice of svc carries.
func serviceOwnerRef(svc *corev1.Service) metav1.OwnerReference {
	t := true
	return metav1.OwnerReference{
		APIVersion:         "v1",
		Kind:               "Service",
		Name:               svc.Name,
		UID:                svc.UID,
		Controller:         &t,
		BlockOwnerDeletion: &t,
	}
}

// ownedBy reports whether the slice names svc as an owner.
func ownedBy(s *discovery.EndpointSlice, svc *corev1.Service) bool {
	for _, o := range s.OwnerReferences {
		if o.UID == svc.UID && o.Kind == "Service" && o.APIVersion == "v1" {
			return true
		}
	}
	return false
}

// newSlice returns an unnamed slice of svc (the API server generates the
// name from the "<service>-" prefix).
func newSlice(svc *corev1.Service, ports []discovery.EndpointPort, addressType discovery.AddressType, controllerName string) *discovery.EndpointSlice {
	eps := make([]discovery.EndpointPort, len(ports))
	copy(eps, ports)
	return &discovery.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName:    svc.Name + "-",
			Namespace:       svc.Namespace,
			Labels:          sliceLabels(svc, controllerName),
			OwnerReferences: []metav1.OwnerReference{serviceOwnerRef(svc)},
		},
		AddressType: addressType,
		Ports:       eps,
		Endpoints:   []discovery.Endpoint{},
	}
}

// isPlaceholder reports whether existing is the same empty slice as the
// placeholder want, so it can stay.
func isPlaceholder(existing, want *discovery.EndpointSlice) bool {
	return existing.Namespace == want.Namespace && existing.AddressType == want.AddressType &&
		len(existing.Ports) == 0 && len(existing.Endpoints) == 0 &&
		maps.Equal(existing.Labels, want.Labels) &&
		slices.EqualFunc(existing.OwnerReferences, want.OwnerReferences, func(a, b metav1.OwnerReference) bool {
			return a.APIVersion == b.APIVersion && a.Kind == b.Kind && a.Name == b.Name && a.UID == b.UID &&
				ptrEqual(a.Controller, b.Controller) && ptrEqual(a.BlockOwnerDeletion, b.BlockOwnerDeletion)
		})
}

// addressTypes returns the address types svc is published in, IPv4 first.
func addressTypes(svc *corev1.Service) []discovery.AddressType {
	var v4, v6 bool
	for _, f := range svc.Spec.IPFamilies {
		switch f {
		case corev1.IPv4Protocol:
			v4 = true
		case corev1.IPv6Protocol:
			v6 = true
		}
	}
	if !v4 && !v6 {
		// No families recorded: follow the ClusterIP, or publish both
		// families for a headless Service.
		if ip := net.ParseIP(svc.Spec.ClusterIP); ip != nil {
			v4, v6 = ip.To4() != nil, ip.To4() == nil
		} else {
			v4, v6 = true, true
		}
	}
	var out []discovery.AddressType
	if v4 {
		out = append(out, discovery.AddressTypeIPv4)
	}
	if v6 {
		out = append(out, discovery.AddressTypeIPv6)
	}
	return out
}

// comparePods orders pods by name so the computed slices are stable.
func comparePods(a, b *corev1.Pod) int {
	return cmp.Compare(a.Name, b.Name)
}

package noderestriction

import (
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/svcnet/svcnet/internal/registry"
)

// The EndpointSlice by which a node's DNS server publishes itself behind
// the kube-dns Service (server.publishDNSEndpoint): kube-system/
// kube-dns-<node>.
const (
	dnsSliceNamespace = metav1.NamespaceSystem
	dnsSlicePrefix    = "kube-dns-"
	dnsServiceName    = "kube-dns"
)

// admitEndpointSlice lets a node write only its own kube-dns
// EndpointSlice, holding endpoints on itself for the kube-dns Service,
// so that it cannot steer another Service's traffic, or another node's
// DNS endpoint, to itself.
func admitEndpointSlice(node string, a *registry.AdmissionAttributes) error {
	own := dnsSlicePrefix + node
	ns, name := stored(a)
	if a.Operation == registry.Create {
		ns, name = a.Namespace, objectName(a)
	}
	if ns != dnsSliceNamespace || name != own {
		return forbidden(a, "node %q can only write its own EndpointSlice %s/%s", node, dnsSliceNamespace, own)
	}
	if a.Operation == registry.Delete {
		return nil
	}
	slice, ok := a.Object.(*discoveryv1.EndpointSlice)
	if !ok {
		return unexpectedType(a, a.Object)
	}
	if slice.Labels[discoveryv1.LabelServiceName] != dnsServiceName {
		return forbidden(a, "node %q can only publish endpoints of the %s Service (label %s=%s)", node, dnsServiceName,
			discoveryv1.LabelServiceName, dnsServiceName)
	}
	for _, e := range slice.Endpoints {
		if e.NodeName == nil || *e.NodeName != node {
			return forbidden(a, "node %q can only publish endpoints with nodeName set to itself", node)
		}
	}
	return nil
}

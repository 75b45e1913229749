package server

import (
	"context"
	"log/slog"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
)

// dnsEndpointInterval is how often a node re-asserts its kube-dns
// endpoint (a deleted slice comes back within it).
const dnsEndpointInterval = 30 * time.Second

// publishDNSEndpoint keeps the EndpointSlice "kube-dns-<node>" in
// kube-system pointing at this node's DNS server until ctx is done, so the
// kube-dns ClusterIP reaches every node's DNS.
func publishDNSEndpoint(ctx context.Context, client kubernetes.Interface, cfg NodeConfig, logger *slog.Logger) error {
	addrType := discoveryv1.AddressTypeIPv4
	if cfg.NodeIP.Is6() {
		addrType = discoveryv1.AddressTypeIPv6
	}
	want := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: "kube-dns-" + cfg.NodeName, Namespace: metav1.NamespaceSystem,
			Labels: map[string]string{discoveryv1.LabelServiceName: "kube-dns", discoveryv1.LabelManagedBy: "svcnet-dns"}},
		AddressType: addrType,
		Endpoints: []discoveryv1.Endpoint{{Addresses: []string{cfg.NodeIP.String()}, NodeName: ptr.To(cfg.NodeName),
			Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true), Serving: ptr.To(true), Terminating: ptr.To(false)}}},
		Ports: []discoveryv1.EndpointPort{
			{Name: ptr.To("dns"), Port: ptr.To[int32](53), Protocol: ptr.To(corev1.ProtocolUDP)},
			{Name: ptr.To("dns-tcp"), Port: ptr.To[int32](53), Protocol: ptr.To(corev1.ProtocolTCP)},
		},
	}
	slices := client.DiscoveryV1().EndpointSlices(metav1.NamespaceSystem)
	t := time.NewTicker(dnsEndpointInterval)
	defer t.Stop()
	for {
		cur, err := slices.Get(ctx, want.Name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			_, err = slices.Create(ctx, want, metav1.CreateOptions{})
		case err == nil && !apiequality.Semantic.DeepEqual(cur.Endpoints, want.Endpoints):
			cur.Endpoints, cur.Ports = want.Endpoints, want.Ports
			_, err = slices.Update(ctx, cur, metav1.UpdateOptions{})
		}
		if err != nil && ctx.Err() == nil {
			logger.Warn("Published no kube-dns endpoint", "node", cfg.NodeName, "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

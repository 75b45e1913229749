package server

import (
	"fmt"
	"net/netip"
	"strings"
	"sync/atomic"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
)

// dnsClients says who the node's DNS server answers: pods (the cluster
// CIDRs), loopback, this node, and every Node's addresses (host-network
// pods and node processes, whose queries to the kube-dns ClusterIP reach
// another node masqueraded to their node's address). Anyone else, e.g. a
// machine outside the cluster that reaches the node address, is refused:
// the node is no open resolver.
type dnsClients struct {
	pods  []netip.Prefix
	self  netip.Addr
	nodes corelisters.NodeLister
	known atomic.Pointer[map[netip.Addr]struct{}]
}

// newDNSClients builds the filter and keeps its Node addresses current
// through the factory's Node informer.
func newDNSClients(factory informers.SharedInformerFactory, clusterCIDR string, self netip.Addr) (*dnsClients, error) {
	c := &dnsClients{self: self}
	for _, s := range strings.Split(clusterCIDR, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("--cluster-cidr: %w", err)
		}
		c.pods = append(c.pods, p.Masked())
	}
	inf := factory.Core().V1().Nodes()
	c.nodes = inf.Lister()
	empty := map[netip.Addr]struct{}{}
	c.known.Store(&empty)
	rebuild := func(any) { c.rebuild() }
	if _, err := inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: rebuild, UpdateFunc: func(_, obj any) { c.rebuild() }, DeleteFunc: rebuild,
	}); err != nil {
		return nil, err
	}
	return c, nil
}

// rebuild collects every Node's addresses.
func (c *dnsClients) rebuild() {
	nodes, err := c.nodes.List(labels.Everything())
	if err != nil {
		return
	}
	known := map[netip.Addr]struct{}{}
	for _, n := range nodes {
		for _, a := range n.Status.Addresses {
			if a.Type != corev1.NodeInternalIP && a.Type != corev1.NodeExternalIP {
				continue
			}
			if ip, err := netip.ParseAddr(a.Address); err == nil {
				known[ip.Unmap()] = struct{}{}
			}
		}
	}
	c.known.Store(&known)
}

// Allow reports whether a query from src is answered.
func (c *dnsClients) Allow(src netip.Addr) bool {
	if src.IsLoopback() || src == c.self {
		return true
	}
	for _, p := range c.pods {
		if p.Contains(src) {
			return true
		}
	}
	_, ok := (*c.known.Load())[src]
	return ok
}

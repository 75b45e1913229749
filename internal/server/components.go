package server

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"

	"golang.org/x/sync/errgroup"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"

	"github.com/svcnet/svcnet/internal/apiserver/bootstrap"
	"github.com/svcnet/svcnet/internal/controller"
	"github.com/svcnet/svcnet/internal/controller/garbagecollector"
	"github.com/svcnet/svcnet/internal/controller/namespace"
	"github.com/svcnet/svcnet/internal/registry"
)

// controllerResources turns the served resources into what the generic
// controllers watch.
func controllerResources(resources []registry.Resource) []controller.Resource {
	out := make([]controller.Resource, 0, len(resources))
	for _, r := range resources {
		out = append(out, controller.Resource{GVR: r.GroupVersionResource(), Kind: r.Kind, Namespaced: r.Namespaced})
	}
	return out
}

// startControlPlane starts the components that belong to the control plane
// itself (bootstrap objects, garbage collection, namespace deletion) and,
// unless disabled, the controllers.
func (s *Server) startControlPlane(ctx context.Context, g *errgroup.Group, client kubernetes.Interface,
	meta metadata.Interface, advertise netip.Addr, port int) error {
	serviceIP, err := firstServiceIP(s.cfg.ServiceClusterIPRanges[0])
	if err != nil {
		return err
	}
	dnsIP, _ := netip.ParseAddr(s.cfg.ClusterDNS)
	boot, err := bootstrap.New(bootstrap.Config{Client: client, ServiceIP: serviceIP, Address: advertise,
		Port: int32(port), DNSServiceIP: dnsIP, Logger: s.logger.With("component", "bootstrap")})
	if err != nil {
		return err
	}
	if err := boot.Reconcile(ctx); err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	g.Go(func() error { return boot.Run(ctx) })

	resources := controllerResources(s.resources)
	gc, err := garbagecollector.New(garbagecollector.Config{Metadata: meta, Resources: resources,
		Logger: s.logger.With("component", "garbagecollector")})
	if err != nil {
		return err
	}
	g.Go(func() error { return gc.Run(ctx) })
	ns, err := namespace.New(namespace.Config{Client: client, Metadata: meta, Resources: resources,
		Logger: s.logger.With("component", "namespace")})
	if err != nil {
		return err
	}
	g.Go(func() error { return ns.Run(ctx) })
	if !s.cfg.enabled("controllers") {
		return nil
	}
	return s.startControllers(ctx, g, client)
}

// firstServiceIP is the first usable address of a service CIDR: the
// kubernetes Service's ClusterIP.
func firstServiceIP(cidr string) (netip.Addr, error) {
	p, err := netip.ParsePrefix(cidr)
	if err != nil {
		return netip.Addr{}, err
	}
	return p.Masked().Addr().Next(), nil
}

// serverURL is how local clients reach the API server.
func serverURL(bind string, port int) string {
	host := bind
	if a, err := netip.ParseAddr(bind); err == nil && a.IsUnspecified() {
		host = "127.0.0.1"
		if a.Is6() {
			host = "::1"
		}
	}
	return "https://" + net.JoinHostPort(host, strconv.Itoa(port))
}

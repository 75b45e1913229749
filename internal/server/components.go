package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"

	clientv3 "go.etcd.io/etcd/client/v3"
	"golang.org/x/sync/errgroup"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"

	"github.com/svcnet/svcnet/internal/apiserver/bootstrap"
	"github.com/svcnet/svcnet/internal/controller"
	"github.com/svcnet/svcnet/internal/leader"
	"github.com/svcnet/svcnet/internal/registry"
)

// controllerResources turns the served resources into what the generic
// controllers watch.
func controllerResources(resources []registry.Resource) []controller.Resource {
	out := make([]controller.Resource, 0, len(resources))
	for _, r := range resources {
		// Virtual resources (SelfSubjectReview) hold no objects to
		// collect or delete with their namespace.
		if !slices.Contains(r.Verbs, "list") || !slices.Contains(r.Verbs, "watch") {
			continue
		}
		out = append(out, controller.Resource{GVR: r.GroupVersionResource(), Kind: r.Kind, Namespaced: r.Namespaced})
	}
	return out
}

// ControllerManagerLease names the kube-system Lease whose holder runs the
// controllers, as kube-controller-manager's does. The scheduler runs in the
// same term: here it shares the controllers' informers rather than being a
// component of its own.
const ControllerManagerLease = "kube-controller-manager"

// startControlPlane reconciles the bootstrap objects (on every server, as
// each kube-apiserver does) and starts the controllers: garbage collection,
// namespace deletion and, unless disabled, the rest. With leader election
// they run only while this server holds the ControllerManagerLease.
func (s *Server) startControlPlane(ctx context.Context, g *errgroup.Group, client kubernetes.Interface,
	meta metadata.Interface, etcd *clientv3.Client, advertise netip.Addr, port int) error {
	serviceIP, err := firstServiceIP(s.cfg.ServiceClusterIPRanges[0])
	if err != nil {
		return err
	}
	dnsIP, _ := netip.ParseAddr(s.cfg.ClusterDNS)
	// Every server publishes its address in etcd and the kubernetes
	// Endpoints list all live ones, as upstream's lease reconciler does.
	leases := &apiServerLeases{etcd: etcd, address: advertise}
	g.Go(func() error { <-ctx.Done(); leases.Remove(); return nil })
	var cidrs []netip.Prefix
	for _, r := range s.cfg.ServiceClusterIPRanges {
		p, err := netip.ParsePrefix(r)
		if err != nil {
			return fmt.Errorf("--service-cluster-ip-range: %w", err)
		}
		cidrs = append(cidrs, p)
	}
	boot, err := bootstrap.New(bootstrap.Config{Client: client, ServiceIP: serviceIP, Address: advertise, ServiceCIDRs: cidrs,
		Port: int32(port), DNSServiceIP: dnsIP, Addresses: leases.Addresses, Logger: s.logger.With("component", "bootstrap")})
	if err != nil {
		return err
	}
	if err := boot.Reconcile(ctx); err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	if err := s.reconcilePolicy(ctx, client); err != nil {
		return err
	}
	g.Go(func() error { return boot.Run(ctx) })

	lead := func(ctx context.Context) error {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		g, ctx := errgroup.WithContext(ctx)
		if err := s.startControllers(ctx, g, client, meta); err != nil {
			cancel() // stop what already started before waiting for it
			return errors.Join(err, g.Wait())
		}
		return g.Wait()
	}
	if !s.cfg.LeaderElect {
		g.Go(func() error { return lead(ctx) })
		return nil
	}
	identity, err := s.identity()
	if err != nil {
		return err
	}
	elector, err := leader.New(leader.Config{Client: client, Namespace: metav1.NamespaceSystem, Name: ControllerManagerLease,
		Identity: identity, LeaseDuration: s.cfg.LeaderElectLeaseDuration, RenewDeadline: s.cfg.LeaderElectRenewDeadline,
		RetryPeriod: s.cfg.LeaderElectRetryPeriod, Lead: lead, Logger: s.logger.With("component", "leader-election")})
	if err != nil {
		return err
	}
	g.Go(func() error { return elector.Run(ctx) })
	return nil
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

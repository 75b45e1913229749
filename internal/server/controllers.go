package server

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/tools/record"

	"github.com/svcnet/svcnet/internal/api"
	"github.com/svcnet/svcnet/internal/controller/bootstraptoken"
	"github.com/svcnet/svcnet/internal/controller/clusterroleaggregation"
	"github.com/svcnet/svcnet/internal/controller/csrapproving"
	"github.com/svcnet/svcnet/internal/controller/csrsigning"
	"github.com/svcnet/svcnet/internal/controller/daemonset"
	"github.com/svcnet/svcnet/internal/controller/deployment"
	"github.com/svcnet/svcnet/internal/controller/endpoints"
	"github.com/svcnet/svcnet/internal/controller/endpointslice"
	"github.com/svcnet/svcnet/internal/controller/endpointslicemirroring"
	"github.com/svcnet/svcnet/internal/controller/garbagecollector"
	"github.com/svcnet/svcnet/internal/controller/loadbalancer"
	"github.com/svcnet/svcnet/internal/controller/namespace"
	"github.com/svcnet/svcnet/internal/controller/namespacedefaults"
	"github.com/svcnet/svcnet/internal/controller/nodeipam"
	"github.com/svcnet/svcnet/internal/controller/nodelifecycle"
	"github.com/svcnet/svcnet/internal/controller/replicaset"
	"github.com/svcnet/svcnet/internal/controller/scheduler"
	"github.com/svcnet/svcnet/internal/controller/servicecidr"
	"github.com/svcnet/svcnet/internal/controller/statefulset"
)

// runnable is a component started under the server's errgroup.
type runnable interface {
	Run(ctx context.Context) error
}

// startControllers builds the garbage collector, the namespace controller
// and, unless disabled, every other controller on one shared informer
// factory, starts the factory and runs them under g until ctx ends. Events
// go to the API through one broadcaster, so `kubectl describe` shows them.
func (s *Server) startControllers(ctx context.Context, g *errgroup.Group, client kubernetes.Interface, meta metadata.Interface) error {
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
	// What authorization depends on runs even without the other
	// controllers: admin, edit and view are aggregated roles; nodes get
	// their certificates through CSRs; bootstrap tokens expire.
	authFactory := informers.NewSharedInformerFactory(client, 0)
	agg, err := clusterroleaggregation.New(clusterroleaggregation.Config{Client: client, Informers: authFactory,
		Logger: s.logger.With("component", "clusterrole-aggregation")})
	if err != nil {
		return err
	}
	ca, caKey := s.pki.CA()
	signer, err := csrsigning.New(csrsigning.Config{Client: client, Informers: authFactory,
		CA: csrsigning.CA{Cert: ca, Key: caKey}, Duration: s.cfg.ClusterSigningDuration,
		Logger: s.logger.With("component", "csrsigning")})
	if err != nil {
		return err
	}
	approver, err := csrapproving.New(csrapproving.Config{Client: client, Informers: authFactory,
		Authorizer: s.access.authorizer, Logger: s.logger.With("component", "csrapproving")})
	if err != nil {
		return err
	}
	cleaner, err := bootstraptoken.New(bootstraptoken.Config{Client: client, Informers: authFactory,
		Logger: s.logger.With("component", "tokencleaner")})
	if err != nil {
		return err
	}
	authFactory.Start(ctx.Done())
	for _, c := range []runnable{agg, signer, approver, cleaner} {
		g.Go(func() error { return c.Run(ctx) })
	}
	if !s.cfg.enabled("controllers") {
		return nil
	}

	factory := informers.NewSharedInformerFactory(client, 0)
	broadcaster := record.NewBroadcaster(record.WithContext(ctx))
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: client.CoreV1().Events("")})
	g.Go(func() error { <-ctx.Done(); broadcaster.Shutdown(); return nil })
	scheme := api.NewScheme() // resolves the kinds of the objects events are about
	recorder := func(component string) record.EventRecorder {
		return broadcaster.NewRecorder(scheme, corev1.EventSource{Component: component})
	}
	logger := func(name string) *slog.Logger { return s.logger.With("component", name) }

	var clusterCIDRs []netip.Prefix
	for _, c := range strings.Split(s.cfg.ClusterCIDR, ",") {
		p, err := netip.ParsePrefix(strings.TrimSpace(c))
		if err != nil {
			return fmt.Errorf("--cluster-cidr: %w", err)
		}
		clusterCIDRs = append(clusterCIDRs, p)
	}

	var all []runnable
	add := func(c runnable, err error) error {
		if err != nil {
			return err
		}
		all = append(all, c)
		return nil
	}
	if err := add(endpointslice.New(endpointslice.Config{Client: client, Informers: factory,
		Recorder: recorder("endpointslice-controller"), Logger: logger("endpointslice"),
		MaxEndpointsPerSlice: s.cfg.MaxEndpointsPerSlice})); err != nil {
		return err
	}
	if err := add(endpoints.New(endpoints.Config{Client: client, Informers: factory,
		Recorder: recorder("endpoint-controller"), Logger: logger("endpoints")})); err != nil {
		return err
	}
	if err := add(endpointslicemirroring.New(endpointslicemirroring.Config{Client: client, Informers: factory,
		Recorder: recorder("endpointslice-mirroring-controller"), Logger: logger("endpointslicemirroring")})); err != nil {
		return err
	}
	if err := add(replicaset.New(replicaset.Config{Client: client, Informers: factory,
		Recorder: recorder("replicaset-controller"), Logger: logger("replicaset")})); err != nil {
		return err
	}
	if err := add(deployment.New(deployment.Config{Client: client, Informers: factory,
		Recorder: recorder("deployment-controller"), Logger: logger("deployment")})); err != nil {
		return err
	}
	if err := add(statefulset.New(statefulset.Config{Client: client, Informers: factory,
		Recorder: recorder("statefulset-controller"), Logger: logger("statefulset")})); err != nil {
		return err
	}
	if err := add(daemonset.New(daemonset.Config{Client: client, Informers: factory,
		Recorder: recorder("daemonset-controller"), Logger: logger("daemonset")})); err != nil {
		return err
	}
	if err := add(scheduler.New(scheduler.Config{Client: client, Informers: factory,
		Recorder: recorder("default-scheduler"), Logger: logger("scheduler")})); err != nil {
		return err
	}
	if err := add(nodeipam.New(nodeipam.Config{Client: client, Informers: factory, ClusterCIDRs: clusterCIDRs,
		Recorder: recorder("node-ipam-controller"), Logger: logger("nodeipam")})); err != nil {
		return err
	}
	pools, err := loadbalancer.ParsePools(s.cfg.LoadBalancerIPPools)
	if err != nil {
		return fmt.Errorf("--loadbalancer-ip-pool: %w", err)
	}
	if err := add(loadbalancer.New(loadbalancer.Config{Client: client, Informers: factory, Pools: pools,
		Class: s.cfg.LoadBalancerClass, Recorder: recorder("service-lb-controller"), Logger: logger("loadbalancer")})); err != nil {
		return err
	}
	if err := add(nodelifecycle.New(nodelifecycle.Config{Client: client, Informers: factory,
		GracePeriod: s.cfg.NodeMonitorGracePeriod, StartupGracePeriod: s.cfg.NodeStartupGracePeriod,
		MonitorPeriod: s.cfg.NodeMonitorPeriod, Recorder: recorder("node-controller"), Logger: logger("nodelifecycle")})); err != nil {
		return err
	}
	if err := add(namespacedefaults.New(namespacedefaults.Config{Client: client, Informers: factory, CA: s.pki.CAPEM(),
		Logger: logger("namespacedefaults")})); err != nil {
		return err
	}
	if err := add(servicecidr.New(servicecidr.Config{Client: client, Informers: factory, Logger: logger("servicecidr")})); err != nil {
		return err
	}
	factory.Start(ctx.Done())
	for _, c := range all {
		g.Go(func() error { return c.Run(ctx) })
	}
	return nil
}

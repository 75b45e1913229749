package endpointslicemirroring

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	discovery "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"

	"github.com/svcnet/svcnet/internal/controller/keyqueue"
	"github.com/svcnet/svcnet/internal/controller/slicetracker"
)

// ControllerName is the value of the endpointslice.kubernetes.io/managed-by
// label on the slices this controller manages.
const ControllerName = "endpointslicemirroring-controller.k8s.io"

const (
	// DefaultMaxEndpointsPerSubset is upstream's default for
	// --mirroring-max-endpoints-per-subset.
	DefaultMaxEndpointsPerSubset = 1000
	// maxEndpointsPerSliceLimit is the API's limit on endpoints in a slice.
	maxEndpointsPerSliceLimit = 1000
	// defaultWorkers matches upstream's
	// --mirroring-concurrent-service-endpoint-syncs.
	defaultWorkers = 5
)

// Event reasons, as upstream's.
const (
	reasonInvalidIPAddress         = "InvalidIPAddress"
	reasonTooManyAddressesToMirror = "TooManyAddressesToMirror"
	reasonFailedToUpdateSlices     = "FailedToUpdateEndpointSlices"
)

// Config configures the controller.
type Config struct {
	Client kubernetes.Interface
	// Informers provides the Endpoints, Service and EndpointSlice
	// informers. The caller starts it after New.
	Informers informers.SharedInformerFactory
	// Recorder receives Warning events (skipped addresses, failed
	// writes); nil drops them.
	Recorder record.EventRecorder
	Logger   *slog.Logger
	// Workers is the number of Endpoints synced in parallel (default 5).
	Workers int
	// MaxEndpointsPerSubset caps the addresses mirrored per subset
	// (default and maximum 1000).
	MaxEndpointsPerSubset int
}

// Controller mirrors hand-written Endpoints of selectorless Services into
// EndpointSlices.
type Controller struct {
	cfg       Config
	queue     *keyqueue.Queue
	endpoints corelisters.EndpointsLister
	services  corelisters.ServiceLister
	slices    discoverylisters.EndpointSliceLister
	synced    []cache.InformerSynced
	tracker   *slicetracker.Tracker
}

// New builds the controller and registers its event handlers on
// cfg.Informers.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil || cfg.Informers == nil {
		return nil, errors.New("endpointslice mirroring controller: client and informers required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Recorder == nil {
		cfg.Recorder = &record.FakeRecorder{}
	}
	if cfg.Workers <= 0 {
		cfg.Workers = defaultWorkers
	}
	if cfg.MaxEndpointsPerSubset <= 0 {
		cfg.MaxEndpointsPerSubset = DefaultMaxEndpointsPerSubset
	}
	if cfg.MaxEndpointsPerSubset > maxEndpointsPerSliceLimit {
		return nil, fmt.Errorf("endpointslice mirroring controller: max endpoints per subset %d above %d",
			cfg.MaxEndpointsPerSubset, maxEndpointsPerSliceLimit)
	}
	epInf := cfg.Informers.Core().V1().Endpoints()
	svcInf := cfg.Informers.Core().V1().Services()
	sliceInf := cfg.Informers.Discovery().V1().EndpointSlices()
	c := &Controller{
		cfg:       cfg,
		endpoints: epInf.Lister(),
		services:  svcInf.Lister(),
		slices:    sliceInf.Lister(),
		tracker:   slicetracker.New(),
	}
	// Upstream backs off from 1s: a sync may rewrite many slices.
	c.queue = keyqueue.New(keyqueue.Config{Name: "endpoint_slice_mirroring", Sync: c.sync, Logger: cfg.Logger,
		RateLimiter: workqueue.NewTypedItemExponentialFailureRateLimiter[string](10*time.Millisecond, 100*time.Second),
		Started:     "Started EndpointSlice mirroring controller", Failed: "Mirrored EndpointSlices with errors", KeyName: "endpoints"})
	handlers := []struct {
		inf cache.SharedIndexInformer
		h   cache.ResourceEventHandler
	}{
		{epInf.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    c.onEndpoints,
			UpdateFunc: c.onEndpointsUpdate,
			DeleteFunc: c.onEndpoints,
		}},
		{svcInf.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    c.onService,
			UpdateFunc: c.onServiceUpdate,
			DeleteFunc: c.onService,
		}},
		{sliceInf.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    func(obj any) { c.onSlice(obj, false) },
			UpdateFunc: c.onSliceUpdate,
			DeleteFunc: func(obj any) { c.onSlice(obj, true) },
		}},
	}
	for _, h := range handlers {
		if _, err := h.inf.AddEventHandler(h.h); err != nil {
			return nil, fmt.Errorf("endpointslice mirroring controller: add event handler: %w", err)
		}
		c.synced = append(c.synced, h.inf.HasSynced)
	}
	return c, nil
}

// Run waits for the informer caches, then syncs Endpoints until ctx is done.
func (c *Controller) Run(ctx context.Context) error {
	c.queue.Run(ctx, c.cfg.Workers, c.synced...)
	return nil
}

// errStaleCache reports that the informer has not caught up with the
// controller's own writes; the sync is retried.
var errStaleCache = fmt.Errorf("endpointslice informer cache is out of date: %w", keyqueue.ErrRetry)

// sync reconciles the mirrored slices of one Endpoints object.
func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	ep, err := c.endpoints.Endpoints(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return c.deleteAll(ctx, key, ns, name)
	}
	if err != nil {
		return err
	}
	if !shouldMirror(ep) {
		return c.deleteAll(ctx, key, ns, name)
	}
	svc, err := c.services.Services(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return c.deleteAll(ctx, key, ns, name)
	}
	if err != nil {
		return err
	}
	if svc.Spec.Selector != nil {
		// The Endpoints and EndpointSlice controllers own this Service.
		return c.deleteAll(ctx, key, ns, name)
	}
	existing, err := c.managedSlices(ns, name)
	if err != nil {
		return err
	}
	if err := c.checkStale(ctx, key, ns, existing); err != nil {
		return err
	}
	m := desired(ep, c.cfg.MaxEndpointsPerSubset)
	if m.invalid > 0 {
		c.cfg.Recorder.Eventf(ep, corev1.EventTypeWarning, reasonInvalidIPAddress,
			"Skipped %d invalid IP addresses when mirroring to EndpointSlices", m.invalid)
	}
	if m.skipped > m.invalid {
		c.cfg.Recorder.Eventf(ep, corev1.EventTypeWarning, reasonTooManyAddressesToMirror,
			"A max of %d addresses can be mirrored to EndpointSlices per Endpoints subset. %d addresses were skipped",
			c.cfg.MaxEndpointsPerSubset, m.skipped)
	}
	p := compute(ep, m, existing)
	if err := c.apply(ctx, key, ep, p); err != nil {
		c.cfg.Recorder.Eventf(ep, corev1.EventTypeWarning, reasonFailedToUpdateSlices,
			"Error updating EndpointSlices for Endpoints %s/%s: %v", ns, name, err)
		return err
	}
	return nil
}

// shouldMirror reports whether an Endpoints object may be mirrored at all:
// not labelled skip-mirror and not a leader-election record.
func shouldMirror(ep *corev1.Endpoints) bool {
	if ep == nil || ep.Labels[discovery.LabelSkipMirror] == "true" {
		return false
	}
	_, leader := ep.Annotations[resourcelock.LeaderElectionRecordAnnotationKey]
	return !leader
}

// checkStale returns errStaleCache when the cached slices miss the
// controller's own writes. Slices written but absent from the cache are
// looked up in the API: one deleted before its write was recorded would
// otherwise be waited for forever.
func (c *Controller) checkStale(ctx context.Context, key, ns string, existing []*discovery.EndpointSlice) error {
	behind, missing := c.tracker.Stale(key, existing)
	if behind {
		return errStaleCache
	}
	for _, name := range missing {
		_, err := c.cfg.Client.DiscoveryV1().EndpointSlices(ns).Get(ctx, name, metav1.GetOptions{})
		if !apierrors.IsNotFound(err) {
			return errStaleCache
		}
	}
	c.tracker.Drop(key, missing)
	return nil
}

// managedSlices lists the cached slices mirrored for an Endpoints object.
func (c *Controller) managedSlices(ns, name string) ([]*discovery.EndpointSlice, error) {
	sel := labels.SelectorFromValidatedSet(labels.Set{
		discovery.LabelServiceName: name,
		discovery.LabelManagedBy:   ControllerName,
	})
	return c.slices.EndpointSlices(ns).List(sel)
}

// deleteAll deletes the mirrored slices of an Endpoints object that is
// gone or must not be mirrored.
func (c *Controller) deleteAll(ctx context.Context, key, ns, name string) error {
	existing, err := c.managedSlices(ns, name)
	if err != nil {
		return err
	}
	// Slices written but not cached yet go too: no later event would
	// bring them back here.
	names := c.tracker.Written(key)
	for _, s := range existing {
		if !slices.Contains(names, s.Name) {
			names = append(names, s.Name)
		}
	}
	var errs []error
	for _, n := range names {
		err := c.cfg.Client.DiscoveryV1().EndpointSlices(ns).Delete(ctx, n, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("delete EndpointSlice %s: %w", n, err))
			continue
		}
		c.tracker.Deleted(key, n)
	}
	if len(names) > 0 {
		c.cfg.Logger.Debug("Deleted mirrored EndpointSlices", "endpoints", key, "deleted", len(names))
	}
	return errors.Join(errs...)
}

// apply performs a plan: creates (skipped while the Endpoints are being
// deleted), then updates, then deletes.
func (c *Controller) apply(ctx context.Context, key string, ep *corev1.Endpoints, p plan) error {
	client := c.cfg.Client.DiscoveryV1().EndpointSlices(ep.Namespace)
	if ep.DeletionTimestamp == nil {
		for _, s := range p.create {
			created, err := client.Create(ctx, s, metav1.CreateOptions{})
			if err != nil {
				if apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
					return nil
				}
				return fmt.Errorf("create EndpointSlice: %w", err)
			}
			c.tracker.Wrote(key, created)
		}
	}
	for _, s := range p.update {
		updated, err := client.Update(ctx, s, metav1.UpdateOptions{})
		if err != nil {
			return fmt.Errorf("update EndpointSlice %s: %w", s.Name, err)
		}
		c.tracker.Wrote(key, updated)
	}
	for _, s := range p.delete {
		if err := client.Delete(ctx, s.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete EndpointSlice %s: %w", s.Name, err)
		}
		c.tracker.Deleted(key, s.Name)
	}
	if !p.empty() {
		c.cfg.Logger.Debug("Mirrored EndpointSlices", "endpoints", key,
			"created", len(p.create), "updated", len(p.update), "deleted", len(p.delete))
	}
	return nil
}

func endpointsFrom(obj any) *corev1.Endpoints {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	ep, _ := obj.(*corev1.Endpoints)
	return ep
}

func serviceFrom(obj any) *corev1.Service {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	svc, _ := obj.(*corev1.Service)
	return svc
}

func (c *Controller) enqueue(ns, name string) {
	c.queue.Add(ns + "/" + name)
}

// onEndpoints queues an added or deleted Endpoints object that may be
// mirrored.
func (c *Controller) onEndpoints(obj any) {
	if ep := endpointsFrom(obj); shouldMirror(ep) {
		c.enqueue(ep.Namespace, ep.Name)
	}
}

// onEndpointsUpdate queues an Endpoints object mirrored before or after the
// update (a skip-mirror label added means its slices go).
func (c *Controller) onEndpointsUpdate(oldObj, newObj any) {
	o, n := endpointsFrom(oldObj), endpointsFrom(newObj)
	if n != nil && (shouldMirror(o) || shouldMirror(n)) {
		c.enqueue(n.Namespace, n.Name)
	}
}

// onService queues the Endpoints of an added or deleted selectorless
// Service.
func (c *Controller) onService(obj any) {
	if svc := serviceFrom(obj); svc != nil && svc.Spec.Selector == nil {
		c.enqueue(svc.Namespace, svc.Name)
	}
}

// onServiceUpdate queues the Endpoints of a Service that gained or lost
// its selector.
func (c *Controller) onServiceUpdate(oldObj, newObj any) {
	o, n := serviceFrom(oldObj), serviceFrom(newObj)
	if o != nil && n != nil && (o.Spec.Selector == nil) != (n.Spec.Selector == nil) {
		c.enqueue(n.Namespace, n.Name)
	}
}

// onSlice requeues the Endpoints of a mirrored slice that changed or
// vanished behind the controller's back.
func (c *Controller) onSlice(obj any, gone bool) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	s, ok := obj.(*discovery.EndpointSlice)
	if !ok || s.Labels[discovery.LabelManagedBy] != ControllerName {
		return
	}
	name := s.Labels[discovery.LabelServiceName]
	if name == "" {
		return
	}
	if c.tracker.Observed(s.Namespace+"/"+name, s, gone) {
		c.enqueue(s.Namespace, name)
	}
}

func (c *Controller) onSliceUpdate(oldObj, newObj any) {
	o, ok1 := oldObj.(*discovery.EndpointSlice)
	n, ok2 := newObj.(*discovery.EndpointSlice)
	if !ok1 || !ok2 {
		return
	}
	// A slice moved to another Service or taken over by another manager
	// leaves a hole in the old Endpoints' slices.
	if o.Labels[discovery.LabelManagedBy] == ControllerName &&
		(n.Labels[discovery.LabelManagedBy] != ControllerName || n.Labels[discovery.LabelServiceName] != o.Labels[discovery.LabelServiceName]) {
		if name := o.Labels[discovery.LabelServiceName]; name != "" {
			c.enqueue(o.Namespace, name)
		}
	}
	c.onSlice(n, false)
}

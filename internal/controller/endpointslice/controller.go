package endpointslice

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"

	"github.com/svcnet/svcnet/internal/controller/endpointslice/podendpoint"
	"github.com/svcnet/svcnet/internal/controller/keyqueue"
	"github.com/svcnet/svcnet/internal/controller/slicetracker"
)

// ControllerName is the value of the endpointslice.kubernetes.io/managed-by
// label on the slices this controller manages.
const ControllerName = "endpointslice-controller.k8s.io"

const (
	// DefaultMaxEndpointsPerSlice is upstream's default for
	// --max-endpoints-per-slice.
	DefaultMaxEndpointsPerSlice = 100
	// maxEndpointsPerSliceLimit is the API's limit on endpoints in a slice.
	maxEndpointsPerSliceLimit = 1000
	// defaultWorkers matches upstream's --concurrent-service-endpoint-syncs.
	defaultWorkers = 5
)

// Config configures the controller.
type Config struct {
	Client kubernetes.Interface
	// Informers provides the Service, Pod, Node and EndpointSlice
	// informers. The caller starts it after New.
	Informers informers.SharedInformerFactory
	// Recorder receives Warning events about failed syncs; nil drops them.
	Recorder record.EventRecorder
	Logger   *slog.Logger
	// Workers is the number of Services synced in parallel (default 5).
	Workers int
	// MaxEndpointsPerSlice caps the endpoints in one slice (default 100,
	// at most 1000).
	MaxEndpointsPerSlice int
}

// Controller keeps the EndpointSlices of selector Services current.
type Controller struct {
	cfg      Config
	queue    *keyqueue.Queue
	services corelisters.ServiceLister
	pods     corelisters.PodLister
	nodes    corelisters.NodeLister
	slices   discoverylisters.EndpointSliceLister
	synced   []cache.InformerSynced
	rec      reconciler
	tracker  *slicetracker.Tracker
	triggers *podendpoint.TriggerTimes
}

// New builds the controller and registers its event handlers on
// cfg.Informers.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil || cfg.Informers == nil {
		return nil, errors.New("endpointslice controller: client and informers required")
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
	if cfg.MaxEndpointsPerSlice <= 0 {
		cfg.MaxEndpointsPerSlice = DefaultMaxEndpointsPerSlice
	}
	if cfg.MaxEndpointsPerSlice > maxEndpointsPerSliceLimit {
		return nil, fmt.Errorf("endpointslice controller: max endpoints per slice %d above %d", cfg.MaxEndpointsPerSlice, maxEndpointsPerSliceLimit)
	}
	svcInf := cfg.Informers.Core().V1().Services()
	podInf := cfg.Informers.Core().V1().Pods()
	nodeInf := cfg.Informers.Core().V1().Nodes()
	sliceInf := cfg.Informers.Discovery().V1().EndpointSlices()
	c := &Controller{
		cfg:      cfg,
		services: svcInf.Lister(),
		pods:     podInf.Lister(),
		nodes:    nodeInf.Lister(),
		slices:   sliceInf.Lister(),
		tracker:  slicetracker.New(),
		triggers: podendpoint.NewTriggerTimes(),
	}
	c.queue = keyqueue.New(keyqueue.Config{Name: "endpointslice", Sync: c.sync, Logger: cfg.Logger,
		RateLimiter: workqueue.NewTypedItemExponentialFailureRateLimiter[string](10*time.Millisecond, 100*time.Second),
		Started:     "Started EndpointSlice controller", Failed: "Synced EndpointSlices with errors", KeyName: "service"})
	c.rec = reconciler{
		controllerName: ControllerName,
		maxEndpoints:   cfg.MaxEndpointsPerSlice,
		node:           c.nodes.Get,
	}
	handlers := []struct {
		inf cache.SharedIndexInformer
		h   cache.ResourceEventHandler
	}{
		{svcInf.Informer(), c.queue.Handler()},
		{podInf.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    c.onPodAddOrDelete,
			UpdateFunc: c.onPodUpdate,
			DeleteFunc: c.onPodAddOrDelete,
		}},
		{nodeInf.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    func(any) { c.enqueueAllServices() },
			UpdateFunc: c.onNodeUpdate,
		}},
		{sliceInf.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    func(obj any) { c.onSlice(obj, false) },
			UpdateFunc: c.onSliceUpdate,
			DeleteFunc: func(obj any) { c.onSlice(obj, true) },
		}},
	}
	for _, h := range handlers {
		if _, err := h.inf.AddEventHandler(h.h); err != nil {
			return nil, fmt.Errorf("endpointslice controller: add event handler: %w", err)
		}
		c.synced = append(c.synced, h.inf.HasSynced)
	}
	return c, nil
}

// Run waits for the informer caches, then syncs Services until ctx is done.
func (c *Controller) Run(ctx context.Context) error {
	c.queue.Run(ctx, c.cfg.Workers, c.synced...)
	return nil
}

// errStaleCache reports that the informer has not caught up with the
// controller's own writes; the sync is retried.
var errStaleCache = fmt.Errorf("endpointslice informer cache is out of date: %w", keyqueue.ErrRetry)

// sync reconciles the slices of one Service.
func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	svc, err := c.services.Services(ns).Get(name)
	if apierrors.IsNotFound(err) {
		c.triggers.Forget(key)
		return c.deleteAll(ctx, key, ns, name)
	}
	if err != nil {
		return err
	}
	if svc.Spec.Selector == nil || svc.Spec.Type == corev1.ServiceTypeExternalName {
		// No endpoints from this controller; drop what an earlier
		// selector left behind.
		return c.deleteAll(ctx, key, ns, name)
	}
	pods, err := c.pods.Pods(ns).List(labels.SelectorFromValidatedSet(svc.Spec.Selector))
	if err != nil {
		c.cfg.Recorder.Eventf(svc, corev1.EventTypeWarning, "FailedToListPods",
			"Error listing Pods for Service %s/%s: %v", ns, name, err)
		return err
	}
	existing, err := c.managedSlices(ns, name)
	if err != nil {
		return err
	}
	if behind, missing := c.tracker.Stale(key, existing); behind || len(missing) > 0 {
		return errStaleCache
	}
	trigger := c.triggers.Compute(key, svc, pods)
	p, planErr := c.rec.compute(svc, pods, existing)
	if err := c.apply(ctx, key, svc, p, trigger); err != nil {
		planErr = errors.Join(planErr, err)
	}
	if planErr != nil {
		c.cfg.Recorder.Eventf(svc, corev1.EventTypeWarning, "FailedToUpdateEndpointSlices",
			"Error updating Endpoint Slices for Service %s/%s: %v", ns, name, planErr)
		return planErr
	}
	return nil
}

// managedSlices lists the cached slices of a Service managed here.
func (c *Controller) managedSlices(ns, name string) ([]*discovery.EndpointSlice, error) {
	sel := labels.SelectorFromValidatedSet(labels.Set{
		discovery.LabelServiceName: name,
		discovery.LabelManagedBy:   ControllerName,
	})
	return c.slices.EndpointSlices(ns).List(sel)
}

// deleteAll deletes the managed slices of a Service that is gone or has no
// selector. It lists them from the API, not the cache: a slice created just
// before the Service went may not be in the cache yet, and its later add
// event looks like the controller's own write, so nothing would requeue it.
// When the cache holds none and no write of the controller is still on its
// way to the cache, there is none to find, and the API list (a scan of
// every slice of the namespace, for each of thousands of selectorless
// Services) is skipped.
func (c *Controller) deleteAll(ctx context.Context, key, ns, name string) error {
	if cached, err := c.managedSlices(ns, name); err == nil && len(cached) == 0 && !c.tracker.Pending(key) {
		return nil
	}
	sel := labels.SelectorFromValidatedSet(labels.Set{
		discovery.LabelServiceName: name,
		discovery.LabelManagedBy:   ControllerName,
	})
	list, err := c.cfg.Client.DiscoveryV1().EndpointSlices(ns).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return fmt.Errorf("list EndpointSlices: %w", err)
	}
	var errs []error
	for i := range list.Items {
		s := &list.Items[i]
		err := c.cfg.Client.DiscoveryV1().EndpointSlices(ns).Delete(ctx, s.Name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("delete EndpointSlice %s: %w", s.Name, err))
			continue
		}
		c.tracker.Deleted(key, s.Name)
	}
	return errors.Join(errs...)
}

// apply performs a plan: creates (skipped while the Service is being
// deleted), then updates, then deletes.
func (c *Controller) apply(ctx context.Context, key string, svc *corev1.Service, p plan, trigger time.Time) error {
	client := c.cfg.Client.DiscoveryV1().EndpointSlices(svc.Namespace)
	if svc.DeletionTimestamp == nil {
		for _, s := range p.create {
			setTriggerTime(s, trigger)
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
		setTriggerTime(s, trigger)
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
		c.cfg.Logger.Debug("Wrote EndpointSlices", "service", key,
			"created", len(p.create), "updated", len(p.update), "deleted", len(p.delete))
	}
	return nil
}

// setTriggerTime sets or clears the last-change-trigger-time annotation.
func setTriggerTime(s *discovery.EndpointSlice, trigger time.Time) {
	if trigger.IsZero() {
		delete(s.Annotations, corev1.EndpointsLastChangeTriggerTime)
		return
	}
	if s.Annotations == nil {
		s.Annotations = map[string]string{}
	}
	s.Annotations[corev1.EndpointsLastChangeTriggerTime] = trigger.UTC().Format(time.RFC3339Nano)
}

func (c *Controller) enqueueKeys(keys []string, err error) {
	if err != nil {
		c.cfg.Logger.Warn("Listed services for pod with errors", "err", err)
		return
	}
	for _, k := range keys {
		c.queue.Add(k)
	}
}

func (c *Controller) onPodAddOrDelete(obj any) {
	pod := podendpoint.FromObject(obj)
	if pod == nil {
		return
	}
	c.enqueueKeys(podendpoint.ServicesSelecting(c.services, pod.Namespace, pod.Labels))
}

func (c *Controller) onPodUpdate(oldObj, newObj any) {
	oldPod, newPod := podendpoint.FromObject(oldObj), podendpoint.FromObject(newObj)
	if oldPod == nil || newPod == nil {
		return
	}
	c.enqueueKeys(podendpoint.ServicesForUpdate(c.services, oldPod, newPod))
}

// onNodeUpdate resyncs every Service when a Node's zone changes: the zone
// is copied into endpoints.
func (c *Controller) onNodeUpdate(oldObj, newObj any) {
	o, ok1 := oldObj.(*corev1.Node)
	n, ok2 := newObj.(*corev1.Node)
	if ok1 && ok2 && o.Labels[corev1.LabelTopologyZone] != n.Labels[corev1.LabelTopologyZone] {
		c.enqueueAllServices()
	}
}

func (c *Controller) enqueueAllServices() {
	svcs, err := c.services.List(labels.Everything())
	if err != nil {
		return
	}
	for _, s := range svcs {
		if s.Spec.Selector != nil {
			c.queue.Add(s.Namespace + "/" + s.Name)
		}
	}
}

// onSlice requeues the Service of a managed slice that changed or vanished
// behind the controller's back.
func (c *Controller) onSlice(obj any, gone bool) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	s, ok := obj.(*discovery.EndpointSlice)
	if !ok || s.Labels[discovery.LabelManagedBy] != ControllerName {
		return
	}
	svcName := s.Labels[discovery.LabelServiceName]
	if svcName == "" {
		return
	}
	key := s.Namespace + "/" + svcName
	if c.tracker.Observed(key, s, gone) {
		c.queue.Add(key)
	}
}

func (c *Controller) onSliceUpdate(oldObj, newObj any) {
	o, ok1 := oldObj.(*discovery.EndpointSlice)
	n, ok2 := newObj.(*discovery.EndpointSlice)
	if !ok1 || !ok2 {
		return
	}
	// A slice taken over by another manager, or moved to another
	// Service, leaves a hole in the old Service's slices.
	if o.Labels[discovery.LabelManagedBy] == ControllerName &&
		(n.Labels[discovery.LabelManagedBy] != ControllerName || n.Labels[discovery.LabelServiceName] != o.Labels[discovery.LabelServiceName]) {
		if svcName := o.Labels[discovery.LabelServiceName]; svcName != "" {
			c.queue.Add(o.Namespace + "/" + svcName)
		}
	}
	c.onSlice(n, false)
}

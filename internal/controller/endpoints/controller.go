package endpoints

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"

	"github.com/svcnet/svcnet/internal/controller/endpointslice/podendpoint"
	"github.com/svcnet/svcnet/internal/controller/keyqueue"
)

const (
	// MaxAddresses is upstream's cap on the addresses of one Endpoints
	// object; beyond it addresses are dropped and the object is annotated
	// endpoints.kubernetes.io/over-capacity: truncated.
	MaxAddresses = 1000
	// overCapacityTruncated is the value of the over-capacity annotation.
	overCapacityTruncated = "truncated"
	// defaultWorkers matches upstream's --concurrent-endpoint-syncs.
	defaultWorkers = 5
)

// Config configures the controller.
type Config struct {
	Client kubernetes.Interface
	// Informers provides the Service, Pod and Endpoints informers. The
	// caller starts it after New.
	Informers informers.SharedInformerFactory
	// Recorder receives Warning events about failed writes; nil drops them.
	Recorder record.EventRecorder
	Logger   *slog.Logger
	// Workers is the number of Services synced in parallel (default 5).
	Workers int
}

// Controller keeps the Endpoints objects of selector Services current.
type Controller struct {
	cfg       Config
	queue     *keyqueue.Queue
	services  corelisters.ServiceLister
	pods      corelisters.PodLister
	endpoints corelisters.EndpointsLister
	synced    []cache.InformerSynced
	triggers  *podendpoint.TriggerTimes
	writes    *writeTracker
}

// New builds the controller and registers its event handlers on
// cfg.Informers.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil || cfg.Informers == nil {
		return nil, errors.New("endpoints controller: client and informers required")
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
	svcInf := cfg.Informers.Core().V1().Services()
	podInf := cfg.Informers.Core().V1().Pods()
	epInf := cfg.Informers.Core().V1().Endpoints()
	c := &Controller{
		cfg:       cfg,
		services:  svcInf.Lister(),
		pods:      podInf.Lister(),
		endpoints: epInf.Lister(),
		triggers:  podendpoint.NewTriggerTimes(),
		writes:    newWriteTracker(),
	}
	c.queue = keyqueue.New(keyqueue.Config{Name: "endpoint", Sync: c.retrySync, Logger: cfg.Logger,
		RateLimiter: workqueue.NewTypedItemExponentialFailureRateLimiter[string](5*time.Millisecond, 100*time.Second),
		Started:     "Started Endpoints controller", Failed: "Synced Endpoints with errors", KeyName: "service"})
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
		{epInf.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    c.onEndpoints,
			UpdateFunc: func(_, obj any) { c.onEndpoints(obj) },
			DeleteFunc: c.onEndpointsDelete,
		}},
	}
	for _, h := range handlers {
		if _, err := h.inf.AddEventHandler(h.h); err != nil {
			return nil, fmt.Errorf("endpoints controller: add event handler: %w", err)
		}
		c.synced = append(c.synced, h.inf.HasSynced)
	}
	return c, nil
}

// Run waits for the informer caches, queues the existing Endpoints once (to
// delete those left behind by Services deleted while the controller was
// down), then syncs Services until ctx is done.
func (c *Controller) Run(ctx context.Context) error {
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		c.queue.ShutDown()
		return nil
	}
	c.enqueueLeftovers()
	c.queue.Run(ctx, c.cfg.Workers)
	return nil
}

// retrySync syncs key and marks the errors of a cache that lags behind the
// API (conflicts, objects that exist already) for a quiet retry.
func (c *Controller) retrySync(ctx context.Context, key string) error {
	err := c.sync(ctx, key)
	if apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("%w: %w", keyqueue.ErrRetry, err)
	}
	return err
}

// errStaleCache reports that the informer has not yet delivered the
// controller's own last write; the sync is retried.
var errStaleCache = fmt.Errorf("endpoints informer cache is out of date: %w", keyqueue.ErrRetry)

// sync reconciles the Endpoints of one Service.
func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	svc, err := c.services.Services(ns).Get(name)
	if apierrors.IsNotFound(err) {
		c.triggers.Forget(key)
		err := c.cfg.Client.CoreV1().Endpoints(ns).Delete(ctx, name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete Endpoints: %w", err)
		}
		return nil
	}
	if err != nil {
		return err
	}
	if svc.Spec.Type == corev1.ServiceTypeExternalName || svc.Spec.Selector == nil {
		// Endpoints of these Services are written by their users.
		return nil
	}
	pods, err := c.pods.Pods(ns).List(labels.SelectorFromValidatedSet(svc.Spec.Selector))
	if err != nil {
		return fmt.Errorf("list pods: %w", err)
	}
	// Computed on every sync so that a no-op sync still moves the
	// tracker forward.
	trigger := c.triggers.Compute(key, svc, pods)
	subsets, truncated := desiredSubsets(svc, pods, MaxAddresses)

	current, err := c.endpoints.Endpoints(ns).Get(name)
	switch {
	case apierrors.IsNotFound(err):
		current = nil
	case err != nil:
		return err
	}
	if c.writes.stale(key, current) {
		if current != nil {
			return errStaleCache
		}
		// Either the cache has not seen the create yet, or the object
		// was deleted before the write was recorded (then no event is
		// coming): ask the API which.
		_, err := c.cfg.Client.CoreV1().Endpoints(ns).Get(ctx, name, metav1.GetOptions{})
		if !apierrors.IsNotFound(err) {
			return errStaleCache
		}
		c.writes.forget(key)
	}
	want := desiredEndpoints(svc, current, subsets, truncated, trigger)
	if current != nil && upToDate(current, want) {
		return nil
	}
	client := c.cfg.Client.CoreV1().Endpoints(ns)
	var written *corev1.Endpoints
	if current == nil {
		written, err = client.Create(ctx, want, metav1.CreateOptions{})
		if err != nil {
			if apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
				return nil
			}
			if !apierrors.IsAlreadyExists(err) {
				c.cfg.Recorder.Eventf(want, corev1.EventTypeWarning, "FailedToCreateEndpoint",
					"Failed to create endpoint for service %s/%s: %v", ns, name, err)
			}
			return fmt.Errorf("create Endpoints: %w", err)
		}
	} else {
		written, err = client.Update(ctx, want, metav1.UpdateOptions{})
		if err != nil {
			if !apierrors.IsConflict(err) {
				c.cfg.Recorder.Eventf(want, corev1.EventTypeWarning, "FailedToUpdateEndpoint",
					"Failed to update endpoint %s/%s: %v", ns, name, err)
			}
			return fmt.Errorf("update Endpoints: %w", err)
		}
	}
	c.writes.wrote(key, written)
	c.cfg.Logger.Debug("Wrote Endpoints", "service", key, "addresses", countAddresses(subsets), "truncated", truncated)
	return nil
}

// desiredEndpoints builds the Endpoints object to write from the current
// one (nil when absent): the Service's labels plus the headless label,
// the current annotations with the trigger time and over-capacity marks
// set or cleared, and the subsets.
func desiredEndpoints(svc *corev1.Service, current *corev1.Endpoints, subsets []corev1.EndpointSubset, truncated bool, trigger time.Time) *corev1.Endpoints {
	var ep *corev1.Endpoints
	if current != nil {
		ep = current.DeepCopy()
	} else {
		ep = &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: svc.Name, Namespace: svc.Namespace}}
	}
	ep.Subsets = subsets
	ep.Labels = maps.Clone(svc.Labels)
	if ep.Labels == nil {
		ep.Labels = map[string]string{}
	}
	if serviceIPSet(svc) {
		delete(ep.Labels, corev1.IsHeadlessService)
	} else {
		ep.Labels[corev1.IsHeadlessService] = ""
	}
	if ep.Annotations == nil {
		ep.Annotations = map[string]string{}
	}
	if trigger.IsZero() {
		delete(ep.Annotations, corev1.EndpointsLastChangeTriggerTime)
	} else {
		ep.Annotations[corev1.EndpointsLastChangeTriggerTime] = trigger.UTC().Format(time.RFC3339Nano)
	}
	if truncated {
		ep.Annotations[corev1.EndpointsOverCapacity] = overCapacityTruncated
	} else {
		delete(ep.Annotations, corev1.EndpointsOverCapacity)
	}
	return ep
}

// upToDate reports whether current already has what want carries, the
// trigger time aside (it alone never causes a write).
func upToDate(current, want *corev1.Endpoints) bool {
	return apiequality.Semantic.DeepEqual(current.Subsets, want.Subsets) &&
		apiequality.Semantic.DeepEqual(current.Labels, want.Labels) &&
		current.Annotations[corev1.EndpointsOverCapacity] == want.Annotations[corev1.EndpointsOverCapacity]
}

// serviceIPSet reports whether the Service has a cluster IP (is not
// headless).
func serviceIPSet(svc *corev1.Service) bool {
	return svc.Spec.ClusterIP != corev1.ClusterIPNone && svc.Spec.ClusterIP != ""
}

func countAddresses(subsets []corev1.EndpointSubset) int {
	n := 0
	for _, ss := range subsets {
		n += len(ss.Addresses) + len(ss.NotReadyAddresses)
	}
	return n
}

// enqueueLeftovers queues every existing Endpoints object but the leader
// election records, so that those whose Service is gone get deleted.
func (c *Controller) enqueueLeftovers() {
	eps, err := c.endpoints.List(labels.Everything())
	if err != nil {
		c.cfg.Logger.Warn("Listed Endpoints with errors; orphans are kept", "err", err)
		return
	}
	for _, ep := range eps {
		if _, ok := ep.Annotations[resourcelock.LeaderElectionRecordAnnotationKey]; ok {
			continue
		}
		c.queue.Add(ep.Namespace + "/" + ep.Name)
	}
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

// onEndpoints clears the write expectation an Endpoints event satisfies.
func (c *Controller) onEndpoints(obj any) {
	ep, ok := obj.(*corev1.Endpoints)
	if !ok {
		return
	}
	c.writes.observed(ep.Namespace+"/"+ep.Name, ep)
}

// onEndpointsDelete requeues the Service so that Endpoints deleted behind
// the controller's back come back.
func (c *Controller) onEndpointsDelete(obj any) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err != nil {
		return
	}
	c.writes.forget(key)
	c.queue.Add(key)
}

package statefulset

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"

	"github.com/svcnet/svcnet/internal/controller/keyqueue"
	"github.com/svcnet/svcnet/internal/controller/ownedpods"
)

// Config configures the controller.
type Config struct {
	Client    kubernetes.Interface
	Informers informers.SharedInformerFactory
	Recorder  record.EventRecorder
	Logger    *slog.Logger
	// Workers is the number of StatefulSets synced in parallel (default 5).
	Workers int
	// Now returns the current time (default time.Now); tests replace it.
	Now func() time.Time
}

// Controller keeps the pods of StatefulSets.
type Controller struct {
	cfg       Config
	setLister appslisters.StatefulSetLister
	podLister corelisters.PodLister
	revLister appslisters.ControllerRevisionLister
	synced    []cache.InformerSynced
	queue     *keyqueue.Queue
}

func kind() schema.GroupVersionKind { return appsv1.SchemeGroupVersion.WithKind("StatefulSet") }

// New builds the controller and registers its informer handlers; the
// caller starts cfg.Informers.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil || cfg.Informers == nil || cfg.Recorder == nil {
		return nil, fmt.Errorf("statefulset controller: client, informers and recorder required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 5
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	rsInf := cfg.Informers.Apps().V1().StatefulSets()
	podInf := cfg.Informers.Core().V1().Pods()
	revInf := cfg.Informers.Apps().V1().ControllerRevisions()
	c := &Controller{
		cfg:       cfg,
		setLister: rsInf.Lister(),
		podLister: podInf.Lister(),
		revLister: revInf.Lister(),
		synced:    []cache.InformerSynced{rsInf.Informer().HasSynced, podInf.Informer().HasSynced, revInf.Informer().HasSynced},
	}
	c.queue = keyqueue.New(keyqueue.Config{Name: "statefulset", Sync: c.sync, Logger: cfg.Logger,
		Started: "Started statefulset controller", Failed: "Synced statefulset with errors", KeyName: "statefulset"})
	if _, err := rsInf.Informer().AddEventHandler(c.queue.Handler()); err != nil {
		return nil, fmt.Errorf("statefulset controller: %w", err)
	}
	if _, err := podInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.addPod,
		UpdateFunc: c.updatePod,
		DeleteFunc: c.deletePod,
	}); err != nil {
		return nil, fmt.Errorf("statefulset controller: %w", err)
	}
	return c, nil
}

// Run waits for the caches and syncs StatefulSets until ctx is done.
func (c *Controller) Run(ctx context.Context) error {
	c.queue.Run(ctx, c.cfg.Workers, c.synced...)
	return nil
}

// resolve returns the StatefulSet ref points to, or nil when ref is not a
// StatefulSet or names another incarnation.
func (c *Controller) resolve(namespace string, ref *metav1.OwnerReference) *appsv1.StatefulSet {
	if ref == nil || ref.Kind != "StatefulSet" || ref.APIVersion != appsv1.SchemeGroupVersion.String() {
		return nil
	}
	rs, err := c.setLister.StatefulSets(namespace).Get(ref.Name)
	if err != nil || rs.UID != ref.UID {
		return nil
	}
	return rs
}

// enqueueMatching queues every StatefulSet whose selector matches the
// orphan pod, so one of them adopts it.
func (c *Controller) enqueueMatching(pod *corev1.Pod) {
	list, err := c.setLister.StatefulSets(pod.Namespace).List(labels.Everything())
	if err != nil {
		return
	}
	for _, rs := range list {
		sel, err := metav1.LabelSelectorAsSelector(rs.Spec.Selector)
		if err != nil || sel.Empty() || !sel.Matches(labels.Set(pod.Labels)) {
			continue
		}
		c.queue.Enqueue(rs)
	}
}

func (c *Controller) addPod(obj any) {
	pod := obj.(*corev1.Pod)
	if set := c.resolve(pod.Namespace, metav1.GetControllerOf(pod)); set != nil {
		c.queue.Enqueue(set)
		return
	}
	if metav1.GetControllerOf(pod) == nil {
		c.enqueueMatching(pod)
	}
}

func (c *Controller) updatePod(oldObj, newObj any) {
	old, cur := oldObj.(*corev1.Pod), newObj.(*corev1.Pod)
	if set := c.resolve(old.Namespace, metav1.GetControllerOf(old)); set != nil {
		c.queue.Enqueue(set)
	}
	c.addPod(cur)
	if set := c.resolve(cur.Namespace, metav1.GetControllerOf(cur)); set != nil && set.Spec.MinReadySeconds > 0 && !ownedpods.IsReady(old) && ownedpods.IsReady(cur) {
		key, _ := cache.MetaNamespaceKeyFunc(set)
		c.queue.AddAfter(key, time.Duration(set.Spec.MinReadySeconds)*time.Second+time.Second)
	}
}

func (c *Controller) deletePod(obj any) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		tomb, ok := obj.(cache.DeletedFinalStateUnknown)
		if !ok {
			return
		}
		if pod, ok = tomb.Obj.(*corev1.Pod); !ok {
			return
		}
	}
	if set := c.resolve(pod.Namespace, metav1.GetControllerOf(pod)); set != nil {
		c.queue.Enqueue(set)
	}
}

package daemonset

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"

	"github.com/svcnet/svcnet/internal/controller/expectations"
	"github.com/svcnet/svcnet/internal/controller/keyqueue"
	"github.com/svcnet/svcnet/internal/controller/ownedpods"
)

// Config configures the controller.
type Config struct {
	Client    kubernetes.Interface
	Informers informers.SharedInformerFactory
	Recorder  record.EventRecorder
	Logger    *slog.Logger
	// Workers is the number of DaemonSets synced in parallel (default 2,
	// kube-controller-manager's --concurrent-daemonset-syncs).
	Workers int
	// Now returns the current time (default time.Now); tests replace it.
	Now func() time.Time
}

// Controller keeps the pods of DaemonSets.
type Controller struct {
	cfg          Config
	dsLister     appslisters.DaemonSetLister
	podLister    corelisters.PodLister
	nodeLister   corelisters.NodeLister
	revLister    appslisters.ControllerRevisionLister
	synced       []cache.InformerSynced
	queue        *keyqueue.Queue
	expectations *expectations.Expectations
	failed       *backoff
}

func kind() schema.GroupVersionKind { return appsv1.SchemeGroupVersion.WithKind("DaemonSet") }

// New builds the controller and registers its informer handlers; the
// caller starts cfg.Informers.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil || cfg.Informers == nil || cfg.Recorder == nil {
		return nil, fmt.Errorf("daemonset controller: client, informers and recorder required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 2
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	dsInf := cfg.Informers.Apps().V1().DaemonSets()
	podInf := cfg.Informers.Core().V1().Pods()
	nodeInf := cfg.Informers.Core().V1().Nodes()
	revInf := cfg.Informers.Apps().V1().ControllerRevisions()
	c := &Controller{
		cfg:        cfg,
		dsLister:   dsInf.Lister(),
		podLister:  podInf.Lister(),
		nodeLister: nodeInf.Lister(),
		revLister:  revInf.Lister(),
		synced: []cache.InformerSynced{dsInf.Informer().HasSynced, podInf.Informer().HasSynced,
			nodeInf.Informer().HasSynced, revInf.Informer().HasSynced},
		expectations: expectations.New(cfg.Now),
		failed:       newBackoff(cfg.Now),
	}
	c.queue = keyqueue.New(keyqueue.Config{Name: "daemonset", Sync: c.sync, Logger: cfg.Logger,
		Started: "Started daemonset controller", Failed: "Synced daemonset with errors", KeyName: "daemonset"})
	for _, reg := range []struct {
		inf cache.SharedIndexInformer
		h   cache.ResourceEventHandler
	}{
		{dsInf.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    c.queue.Enqueue,
			UpdateFunc: func(_, obj any) { c.queue.Enqueue(obj) },
			DeleteFunc: c.deleteDaemonSet,
		}},
		{podInf.Informer(), (&ownedpods.Events[*appsv1.DaemonSet]{Queue: c.queue, Expectations: c.expectations,
			Resolve: func(ns string, ref *metav1.OwnerReference) (*appsv1.DaemonSet, bool) {
				ds := c.resolve(ns, ref)
				return ds, ds != nil
			},
			EnqueueMatching: func(pod *corev1.Pod) { c.enqueueMatching(pod.Namespace, pod.Labels) },
			MinReadySeconds: func(ds *appsv1.DaemonSet) int32 { return ds.Spec.MinReadySeconds },
		}).Handler()},
		{nodeInf.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    func(any) { c.enqueueAll() },
			UpdateFunc: c.updateNode,
			DeleteFunc: func(any) { c.enqueueAll() },
		}},
		{revInf.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    c.revisionChanged,
			UpdateFunc: func(_, obj any) { c.revisionChanged(obj) },
			DeleteFunc: c.revisionChanged,
		}},
	} {
		if _, err := reg.inf.AddEventHandler(reg.h); err != nil {
			return nil, fmt.Errorf("daemonset controller: %w", err)
		}
	}
	return c, nil
}

// Run waits for the caches and syncs DaemonSets until ctx is done.
func (c *Controller) Run(ctx context.Context) error {
	c.queue.Run(ctx, c.cfg.Workers, c.synced...)
	return nil
}

func (c *Controller) deleteDaemonSet(obj any) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err != nil {
		return
	}
	c.expectations.Forget(key)
	c.queue.Add(key)
}

// resolve returns the DaemonSet ref points to, or nil when ref is not a
// DaemonSet or names another incarnation.
func (c *Controller) resolve(namespace string, ref *metav1.OwnerReference) *appsv1.DaemonSet {
	if ref == nil || ref.Kind != "DaemonSet" || ref.APIVersion != appsv1.SchemeGroupVersion.String() {
		return nil
	}
	ds, err := c.dsLister.DaemonSets(namespace).Get(ref.Name)
	if err != nil || ds.UID != ref.UID {
		return nil
	}
	return ds
}

// enqueueMatching queues every DaemonSet whose selector matches an
// orphan's labels, so one of them adopts it.
func (c *Controller) enqueueMatching(namespace string, lbls map[string]string) {
	list, err := c.dsLister.DaemonSets(namespace).List(labels.Everything())
	if err != nil {
		return
	}
	for _, ds := range list {
		sel, err := metav1.LabelSelectorAsSelector(ds.Spec.Selector)
		if err != nil || sel.Empty() || !sel.Matches(labels.Set(lbls)) {
			continue
		}
		c.queue.Enqueue(ds)
	}
}

// enqueueAll queues every DaemonSet: a node came, went or changed labels
// or taints, which may change where daemon pods belong.
func (c *Controller) enqueueAll() {
	list, err := c.dsLister.List(labels.Everything())
	if err != nil {
		return
	}
	for _, ds := range list {
		c.queue.Enqueue(ds)
	}
}

// updateNode ignores heartbeats: only labels and taints decide placement.
func (c *Controller) updateNode(oldObj, newObj any) {
	old, cur := oldObj.(*corev1.Node), newObj.(*corev1.Node)
	if labels.Equals(old.Labels, cur.Labels) && apiequality.Semantic.DeepEqual(old.Spec.Taints, cur.Spec.Taints) {
		return
	}
	c.enqueueAll()
}

// revisionChanged queues the DaemonSet controlling a ControllerRevision,
// or those that may adopt an orphaned one.
func (c *Controller) revisionChanged(obj any) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	rev, ok := obj.(*appsv1.ControllerRevision)
	if !ok {
		return
	}
	if ref := metav1.GetControllerOf(rev); ref != nil {
		if ds := c.resolve(rev.Namespace, ref); ds != nil {
			c.queue.Enqueue(ds)
		}
		return
	}
	c.enqueueMatching(rev.Namespace, rev.Labels)
}

package replicaset

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

	"github.com/svcnet/svcnet/internal/controller/expectations"
	"github.com/svcnet/svcnet/internal/controller/keyqueue"
	"github.com/svcnet/svcnet/internal/controller/ownedpods"
)

// burstReplicas caps the pods created or deleted in one sync, as upstream,
// so one huge ReplicaSet cannot starve the others.
const burstReplicas = 500

// Config configures the controller.
type Config struct {
	Client    kubernetes.Interface
	Informers informers.SharedInformerFactory
	Recorder  record.EventRecorder
	Logger    *slog.Logger
	// Workers is the number of ReplicaSets synced in parallel (default 5).
	Workers int
	// Now returns the current time (default time.Now); tests replace it.
	Now func() time.Time
}

// Controller keeps the pods of ReplicaSets.
type Controller struct {
	cfg          Config
	rsLister     appslisters.ReplicaSetLister
	podLister    corelisters.PodLister
	synced       []cache.InformerSynced
	queue        *keyqueue.Queue
	expectations *expectations.Expectations
}

func kind() schema.GroupVersionKind { return appsv1.SchemeGroupVersion.WithKind("ReplicaSet") }

// New builds the controller and registers its informer handlers; the
// caller starts cfg.Informers.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil || cfg.Informers == nil || cfg.Recorder == nil {
		return nil, fmt.Errorf("replicaset controller: client, informers and recorder required")
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
	rsInf := cfg.Informers.Apps().V1().ReplicaSets()
	podInf := cfg.Informers.Core().V1().Pods()
	c := &Controller{
		cfg:          cfg,
		rsLister:     rsInf.Lister(),
		podLister:    podInf.Lister(),
		synced:       []cache.InformerSynced{rsInf.Informer().HasSynced, podInf.Informer().HasSynced},
		expectations: expectations.New(cfg.Now),
	}
	c.queue = keyqueue.New(keyqueue.Config{Name: "replicaset", Sync: c.sync, Logger: cfg.Logger,
		Started: "Started replicaset controller", Failed: "Synced replicaset with errors", KeyName: "replicaset"})
	if _, err := rsInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.queue.Enqueue,
		UpdateFunc: func(_, obj any) { c.queue.Enqueue(obj) },
		DeleteFunc: c.deleteRS,
	}); err != nil {
		return nil, fmt.Errorf("replicaset controller: %w", err)
	}
	if _, err := podInf.Informer().AddEventHandler((&ownedpods.Events[*appsv1.ReplicaSet]{Queue: c.queue,
		Expectations: c.expectations,
		Resolve: func(ns string, ref *metav1.OwnerReference) (*appsv1.ReplicaSet, bool) {
			rs := c.resolve(ns, ref)
			return rs, rs != nil
		},
		EnqueueMatching: c.enqueueMatching,
		MinReadySeconds: func(rs *appsv1.ReplicaSet) int32 { return rs.Spec.MinReadySeconds },
	}).Handler()); err != nil {
		return nil, fmt.Errorf("replicaset controller: %w", err)
	}
	return c, nil
}

// Run waits for the caches and syncs ReplicaSets until ctx is done.
func (c *Controller) Run(ctx context.Context) error {
	c.queue.Run(ctx, c.cfg.Workers, c.synced...)
	return nil
}

func (c *Controller) deleteRS(obj any) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err != nil {
		return
	}
	c.expectations.Forget(key)
	c.queue.Add(key)
}

// resolve returns the ReplicaSet ref points to, or nil when ref is not a
// ReplicaSet or names another incarnation.
func (c *Controller) resolve(namespace string, ref *metav1.OwnerReference) *appsv1.ReplicaSet {
	if ref == nil || ref.Kind != "ReplicaSet" || ref.APIVersion != appsv1.SchemeGroupVersion.String() {
		return nil
	}
	rs, err := c.rsLister.ReplicaSets(namespace).Get(ref.Name)
	if err != nil || rs.UID != ref.UID {
		return nil
	}
	return rs
}

// enqueueMatching queues every ReplicaSet whose selector matches the
// orphan pod, so one of them adopts it.
func (c *Controller) enqueueMatching(pod *corev1.Pod) {
	list, err := c.rsLister.ReplicaSets(pod.Namespace).List(labels.Everything())
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

package namespace

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"github.com/svcnet/svcnet/internal/controller"
	"github.com/svcnet/svcnet/internal/controller/keyqueue"
)

// Config configures the controller.
type Config struct {
	Client   kubernetes.Interface
	Metadata metadata.Interface
	// Resources are all served resources; the namespaced ones are emptied.
	Resources []controller.Resource
	Logger    *slog.Logger
}

// Controller deletes the content of terminating namespaces.
type Controller struct {
	cfg   Config
	queue *keyqueue.Queue
}

// New returns the controller.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil || cfg.Metadata == nil {
		return nil, fmt.Errorf("namespace controller: clients required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	c := &Controller{cfg: cfg}
	c.queue = keyqueue.New(keyqueue.Config{Name: "namespace", Sync: c.syncUntilEmpty, Logger: cfg.Logger,
		RateLimiter: workqueue.NewTypedItemExponentialFailureRateLimiter[string](100*time.Millisecond, 10*time.Second),
		Failed:      "Deleted namespace content with errors", KeyName: "namespace"})
	return c, nil
}

// syncUntilEmpty syncs namespace name and retries it, quietly, while
// content is still being deleted.
func (c *Controller) syncUntilEmpty(ctx context.Context, name string) error {
	done, err := c.sync(ctx, name)
	if err == nil && !done {
		return fmt.Errorf("namespace %s: content left: %w", name, keyqueue.ErrRetry)
	}
	return err
}

// Run processes terminating namespaces until ctx is done.
func (c *Controller) Run(ctx context.Context) error {
	defer c.queue.ShutDown()
	factory := informers.NewSharedInformerFactory(c.cfg.Client, 0)
	inf := factory.Core().V1().Namespaces().Informer()
	enqueue := func(obj interface{}) {
		if ns, ok := obj.(*corev1.Namespace); ok && ns.DeletionTimestamp != nil {
			c.queue.Add(ns.Name)
		}
	}
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueue,
		UpdateFunc: func(_, obj interface{}) { enqueue(obj) },
	}); err != nil {
		return err
	}
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		return nil
	}
	c.queue.Run(ctx, 1)
	return nil
}

// sync deletes what is left in the namespace and finalizes it when empty.
func (c *Controller) sync(ctx context.Context, name string) (bool, error) {
	ns, err := c.cfg.Client.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	if ns.DeletionTimestamp == nil {
		return true, nil
	}
	remaining := 0
	for _, r := range c.cfg.Resources {
		if !r.Namespaced {
			continue
		}
		client := c.cfg.Metadata.Resource(r.GVR).Namespace(name)
		list, err := client.List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, fmt.Errorf("list %s: %w", r.GVR.Resource, err)
		}
		if len(list.Items) == 0 {
			continue
		}
		remaining += len(list.Items)
		policy := metav1.DeletePropagationBackground
		for _, item := range list.Items {
			if item.DeletionTimestamp != nil {
				continue
			}
			err := client.Delete(ctx, item.Name, metav1.DeleteOptions{PropagationPolicy: &policy})
			if err != nil && !apierrors.IsNotFound(err) {
				return false, fmt.Errorf("delete %s %s: %w", r.GVR.Resource, item.Name, err)
			}
		}
	}
	if remaining > 0 {
		return false, nil
	}
	var keep []corev1.FinalizerName
	for _, f := range ns.Spec.Finalizers {
		if f != corev1.FinalizerKubernetes {
			keep = append(keep, f)
		}
	}
	ns.Spec.Finalizers = keep
	if _, err := c.cfg.Client.CoreV1().Namespaces().Finalize(ctx, ns, metav1.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return false, err
	}
	c.cfg.Logger.Info("Deleted namespace", "namespace", name)
	return true, nil
}

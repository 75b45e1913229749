package namespacedefaults

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/svcnet/svcnet/internal/controller/keyqueue"
)

// Names of what every namespace gets.
const (
	ServiceAccountName = "default"
	RootCAConfigMap    = "kube-root-ca.crt"
	RootCAKey          = "ca.crt"
)

// descriptionAnnotation says what the ConfigMap is for, as upstream
// annotates it.
const descriptionAnnotation = "kubernetes.io/description"

const description = "The CA bundle that verifies the API server's serving certificate, " +
	"for clients inside the cluster that reach it through the kubernetes Service. " +
	"Maintained by the control plane: edits are overwritten."

// Config configures the controller.
type Config struct {
	Client kubernetes.Interface
	// Informers provides the Namespace, ServiceAccount and ConfigMap
	// informers. The caller starts it after New.
	Informers informers.SharedInformerFactory
	// CA is the PEM CA bundle to publish.
	CA     []byte
	Logger *slog.Logger
}

// Controller keeps the default ServiceAccount and the root CA ConfigMap in
// every active namespace.
type Controller struct {
	cfg        Config
	queue      *keyqueue.Queue
	namespaces corelisters.NamespaceLister
	accounts   corelisters.ServiceAccountLister
	configMaps corelisters.ConfigMapLister
	synced     []cache.InformerSynced
}

// New builds the controller and registers its event handlers: a namespace
// added or updated, its default ServiceAccount deleted, or its
// kube-root-ca.crt changed or deleted queues the namespace.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil || cfg.Informers == nil {
		return nil, errors.New("namespace defaults controller: client and informers required")
	}
	if len(cfg.CA) == 0 {
		return nil, errors.New("namespace defaults controller: CA required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	ns := cfg.Informers.Core().V1().Namespaces()
	sa := cfg.Informers.Core().V1().ServiceAccounts()
	cm := cfg.Informers.Core().V1().ConfigMaps()
	c := &Controller{cfg: cfg, namespaces: ns.Lister(), accounts: sa.Lister(), configMaps: cm.Lister(),
		synced: []cache.InformerSynced{ns.Informer().HasSynced, sa.Informer().HasSynced, cm.Informer().HasSynced}}
	c.queue = keyqueue.New(keyqueue.Config{Name: "namespace_defaults", Sync: c.sync, Logger: cfg.Logger,
		Started: "Started namespace defaults controller", Failed: "Synced namespace defaults with errors", KeyName: "namespace"})
	// named queues the namespace of a deleted or changed object called
	// name (a tombstone is unwrapped).
	named := func(name string) func(any) {
		return func(obj any) {
			if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = t.Obj
			}
			if m, err := meta(obj); err == nil && m.GetName() == name {
				c.queue.Add(m.GetNamespace())
			}
		}
	}
	handlers := []struct {
		inf cache.SharedIndexInformer
		h   cache.ResourceEventHandlerFuncs
	}{
		{ns.Informer(), cache.ResourceEventHandlerFuncs{AddFunc: c.queue.Enqueue, UpdateFunc: func(_, obj any) { c.queue.Enqueue(obj) }}},
		{sa.Informer(), cache.ResourceEventHandlerFuncs{DeleteFunc: named(ServiceAccountName)}},
		{cm.Informer(), cache.ResourceEventHandlerFuncs{UpdateFunc: func(_, obj any) { named(RootCAConfigMap)(obj) },
			DeleteFunc: named(RootCAConfigMap)}},
	}
	for _, h := range handlers {
		if _, err := h.inf.AddEventHandler(h.h); err != nil {
			return nil, fmt.Errorf("namespace defaults controller: %w", err)
		}
	}
	return c, nil
}

func meta(obj any) (metav1.Object, error) {
	m, ok := obj.(metav1.Object)
	if !ok {
		return nil, fmt.Errorf("%T has no object metadata", obj)
	}
	return m, nil
}

// Run syncs namespaces until ctx is done.
func (c *Controller) Run(ctx context.Context) error {
	c.queue.Run(ctx, 2, c.synced...)
	return nil
}

// sync gives namespace name, when active, what it lacks.
func (c *Controller) sync(ctx context.Context, name string) error {
	ns, err := c.namespaces.Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if ns.Status.Phase != corev1.NamespaceActive && ns.Status.Phase != "" || ns.DeletionTimestamp != nil {
		return nil
	}
	return errors.Join(c.ensureServiceAccount(ctx, name), c.ensureRootCA(ctx, name))
}

// gone reports whether a create failed because the namespace is going or
// gone, which the namespace's next event settles.
func gone(err error) bool { return apierrors.IsForbidden(err) || apierrors.IsNotFound(err) }

func (c *Controller) ensureServiceAccount(ctx context.Context, ns string) error {
	if _, err := c.accounts.ServiceAccounts(ns).Get(ServiceAccountName); err == nil {
		return nil
	} else if !apierrors.IsNotFound(err) {
		return err
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: ServiceAccountName}}
	_, err := c.cfg.Client.CoreV1().ServiceAccounts(ns).Create(ctx, sa, metav1.CreateOptions{})
	if err == nil || apierrors.IsAlreadyExists(err) || gone(err) {
		return nil
	}
	return fmt.Errorf("create service account %s/%s: %w", ns, ServiceAccountName, err)
}

func (c *Controller) ensureRootCA(ctx context.Context, ns string) error {
	data := map[string]string{RootCAKey: string(c.cfg.CA)}
	cm, err := c.configMaps.ConfigMaps(ns).Get(RootCAConfigMap)
	if apierrors.IsNotFound(err) {
		_, err = c.cfg.Client.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: RootCAConfigMap, Annotations: map[string]string{descriptionAnnotation: description}},
			Data:       data,
		}, metav1.CreateOptions{})
		if err == nil || apierrors.IsAlreadyExists(err) || gone(err) {
			return nil
		}
		return fmt.Errorf("create %s/%s: %w", ns, RootCAConfigMap, err)
	}
	if err != nil {
		return err
	}
	if maps.Equal(cm.Data, data) && len(cm.BinaryData) == 0 && cm.Annotations[descriptionAnnotation] == description {
		return nil
	}
	cm = cm.DeepCopy()
	cm.Data, cm.BinaryData = data, nil
	if cm.Annotations == nil {
		cm.Annotations = map[string]string{}
	}
	cm.Annotations[descriptionAnnotation] = description
	_, err = c.cfg.Client.CoreV1().ConfigMaps(ns).Update(ctx, cm, metav1.UpdateOptions{})
	if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
		return fmt.Errorf("update %s/%s: %w: %w", ns, RootCAConfigMap, keyqueue.ErrRetry, err)
	}
	return err
}

package serviceaccount

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/svcnet/svcnet/internal/controller/keyqueue"
)

// DefaultName is the ServiceAccount every namespace gets.
const DefaultName = "default"

// Config configures the controller.
type Config struct {
	Client kubernetes.Interface
	// Informers provides the Namespace and ServiceAccount informers. The
	// caller starts it after New.
	Informers informers.SharedInformerFactory
	Logger    *slog.Logger
}

// Controller keeps a default ServiceAccount in every namespace.
type Controller struct {
	cfg        Config
	queue      *keyqueue.Queue
	namespaces corelisters.NamespaceLister
	accounts   corelisters.ServiceAccountLister
	synced     []cache.InformerSynced
}

// New builds the controller and registers its event handlers: a namespace
// added or updated, or a default ServiceAccount deleted, queues the
// namespace.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil || cfg.Informers == nil {
		return nil, errors.New("serviceaccount controller: client and informers required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	ns := cfg.Informers.Core().V1().Namespaces()
	sa := cfg.Informers.Core().V1().ServiceAccounts()
	c := &Controller{cfg: cfg, namespaces: ns.Lister(), accounts: sa.Lister(),
		synced: []cache.InformerSynced{ns.Informer().HasSynced, sa.Informer().HasSynced}}
	c.queue = keyqueue.New(keyqueue.Config{Name: "serviceaccount", Sync: c.sync, Logger: cfg.Logger,
		Started: "Started serviceaccount controller", Failed: "Synced namespace's service accounts with errors", KeyName: "namespace"})
	if _, err := ns.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.queue.Enqueue,
		UpdateFunc: func(_, obj any) { c.queue.Enqueue(obj) },
	}); err != nil {
		return nil, fmt.Errorf("serviceaccount controller: %w", err)
	}
	if _, err := sa.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{DeleteFunc: func(obj any) {
		if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = t.Obj
		}
		if s, ok := obj.(*corev1.ServiceAccount); ok && s.Name == DefaultName {
			c.queue.Add(s.Namespace)
		}
	}}); err != nil {
		return nil, fmt.Errorf("serviceaccount controller: %w", err)
	}
	return c, nil
}

// Run syncs namespaces until ctx is done.
func (c *Controller) Run(ctx context.Context) error {
	c.queue.Run(ctx, 2, c.synced...)
	return nil
}

// sync creates the default ServiceAccount of namespace name when the
// namespace is active and has none.
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
	if _, err := c.accounts.ServiceAccounts(name).Get(DefaultName); err == nil {
		return nil
	} else if !apierrors.IsNotFound(err) {
		return err
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: DefaultName}}
	_, err = c.cfg.Client.CoreV1().ServiceAccounts(name).Create(ctx, sa, metav1.CreateOptions{})
	switch {
	case err == nil, apierrors.IsAlreadyExists(err):
		return nil
	case apierrors.IsForbidden(err), apierrors.IsNotFound(err):
		// The namespace is being deleted (or already gone).
		return nil
	}
	return fmt.Errorf("create service account %s/%s: %w", name, DefaultName, err)
}

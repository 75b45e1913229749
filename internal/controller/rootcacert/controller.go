package rootcacert

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

// Name and key of the published ConfigMap.
const (
	ConfigMapName = "kube-root-ca.crt"
	Key           = "ca.crt"
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
	// Informers provides the Namespace and ConfigMap informers. The caller
	// starts it after New.
	Informers informers.SharedInformerFactory
	// CA is the PEM CA bundle to publish.
	CA     []byte
	Logger *slog.Logger
}

// Controller publishes the CA bundle into every namespace.
type Controller struct {
	cfg        Config
	queue      *keyqueue.Queue
	namespaces corelisters.NamespaceLister
	configMaps corelisters.ConfigMapLister
	synced     []cache.InformerSynced
}

// New builds the controller and registers its event handlers: a namespace
// added or updated, or its kube-root-ca.crt changed or deleted, queues the
// namespace.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil || cfg.Informers == nil {
		return nil, errors.New("root CA publisher: client and informers required")
	}
	if len(cfg.CA) == 0 {
		return nil, errors.New("root CA publisher: CA required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	ns := cfg.Informers.Core().V1().Namespaces()
	cm := cfg.Informers.Core().V1().ConfigMaps()
	c := &Controller{cfg: cfg, namespaces: ns.Lister(), configMaps: cm.Lister(),
		synced: []cache.InformerSynced{ns.Informer().HasSynced, cm.Informer().HasSynced}}
	c.queue = keyqueue.New(keyqueue.Config{Name: "root_ca_cert_publisher", Sync: c.sync, Logger: cfg.Logger,
		Started: "Started root CA publisher", Failed: "Published the root CA with errors", KeyName: "namespace"})
	if _, err := ns.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.queue.Enqueue,
		UpdateFunc: func(_, obj any) { c.queue.Enqueue(obj) },
	}); err != nil {
		return nil, fmt.Errorf("root CA publisher: %w", err)
	}
	onConfigMap := func(obj any) {
		if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = t.Obj
		}
		if m, ok := obj.(*corev1.ConfigMap); ok && m.Name == ConfigMapName {
			c.queue.Add(m.Namespace)
		}
	}
	if _, err := cm.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		UpdateFunc: func(_, obj any) { onConfigMap(obj) },
		DeleteFunc: onConfigMap,
	}); err != nil {
		return nil, fmt.Errorf("root CA publisher: %w", err)
	}
	return c, nil
}

// Run syncs namespaces until ctx is done.
func (c *Controller) Run(ctx context.Context) error {
	c.queue.Run(ctx, 2, c.synced...)
	return nil
}

// sync creates or restores the ConfigMap of namespace name.
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
	data := map[string]string{Key: string(c.cfg.CA)}
	cm, err := c.configMaps.ConfigMaps(name).Get(ConfigMapName)
	if apierrors.IsNotFound(err) {
		_, err = c.cfg.Client.CoreV1().ConfigMaps(name).Create(ctx, &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: ConfigMapName, Annotations: map[string]string{descriptionAnnotation: description}},
			Data:       data,
		}, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) || apierrors.IsForbidden(err) || apierrors.IsNotFound(err) {
			// A cache behind our own create, or the namespace is going away.
			return nil
		}
		return err
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
	_, err = c.cfg.Client.CoreV1().ConfigMaps(name).Update(ctx, cm, metav1.UpdateOptions{})
	if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
		return fmt.Errorf("update %s/%s: %w: %w", name, ConfigMapName, keyqueue.ErrRetry, err)
	}
	return err
}

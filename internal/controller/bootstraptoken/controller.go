package bootstraptoken

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	bootstrapapi "k8s.io/cluster-bootstrap/token/api"
	bootstrapsecrets "k8s.io/cluster-bootstrap/util/secrets"

	"github.com/svcnet/svcnet/internal/controller/keyqueue"
)

// Config configures the cleaner.
type Config struct {
	Client    kubernetes.Interface
	Informers informers.SharedInformerFactory
	// Now is the clock tokens expire by; nil means time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// Cleaner deletes expired bootstrap tokens.
type Cleaner struct {
	cfg     Config
	secrets corelisters.SecretLister
	synced  cache.InformerSynced
	queue   *keyqueue.Queue
}

// New returns the cleaner, registering its Secret informer.
func New(cfg Config) (*Cleaner, error) {
	if cfg.Client == nil || cfg.Informers == nil {
		return nil, errors.New("bootstraptoken: client and informers are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	c := &Cleaner{cfg: cfg}
	c.queue = keyqueue.New(keyqueue.Config{Name: "token_cleaner", Sync: c.sync, Logger: cfg.Logger,
		Started: "Started bootstrap token cleaner", Failed: "Cleaned bootstrap token with errors", KeyName: "secret"})
	inf := cfg.Informers.Core().V1().Secrets()
	c.secrets, c.synced = inf.Lister(), inf.Informer().HasSynced
	if _, err := inf.Informer().AddEventHandler(cache.FilteringResourceEventHandler{
		FilterFunc: func(obj any) bool {
			s, ok := obj.(*corev1.Secret)
			return ok && isToken(s)
		},
		Handler: cache.ResourceEventHandlerFuncs{
			AddFunc:    c.queue.Enqueue,
			UpdateFunc: func(_, obj any) { c.queue.Enqueue(obj) },
		},
	}); err != nil {
		return nil, err
	}
	return c, nil
}

// Run deletes expired tokens until ctx is done.
func (c *Cleaner) Run(ctx context.Context) error {
	c.queue.Run(ctx, 1, c.synced)
	return nil
}

func isToken(s *corev1.Secret) bool {
	return s.Namespace == metav1.NamespaceSystem && s.Type == bootstrapapi.SecretTypeBootstrapToken
}

// sync deletes the token Secret named key when it has expired, or looks at
// it again when it will.
func (c *Cleaner) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil // not a key this controller queued
	}
	s, err := c.secrets.Secrets(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if !isToken(s) {
		return nil
	}
	left, expired := bootstrapsecrets.GetExpiration(s, c.cfg.Now())
	if !expired {
		if left > 0 {
			c.queue.AddAfter(key, left)
		}
		return nil
	}
	uid := s.UID
	err = c.cfg.Client.CoreV1().Secrets(ns).Delete(ctx, name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
	switch {
	case apierrors.IsNotFound(err), apierrors.IsConflict(err):
		// Gone already, or replaced by a new Secret of the same name.
		return nil
	case err != nil:
		return fmt.Errorf("deleting %s: %w", key, err)
	}
	c.cfg.Logger.Info("Deleted expired bootstrap token", "secret", key,
		"expiration", bootstrapsecrets.GetData(s, bootstrapapi.BootstrapTokenExpirationKey))
	return nil
}

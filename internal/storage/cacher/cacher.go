package cacher

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"sort"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/svcnet/svcnet/internal/storage"
)

// DefaultWaitTimeout is how long a read waits for the cache to reach the
// revision it needs before the store answers it: kube-apiserver's watch
// cache waits 3s too.
const DefaultWaitTimeout = 3 * time.Second

// Resource is one cached prefix and the kind of object stored below it.
type Resource struct {
	// Prefix is where the objects live ("/registry/services/specs/"); a
	// missing trailing "/" is added. No other kind may live below it.
	Prefix string
	// NewFunc returns an empty object of the stored kind (&corev1.Service{}).
	NewFunc func() runtime.Object
	// KeyFunc returns the key an object is stored at. When nil it is
	// Prefix + namespace + "/" + name, or Prefix + name without a
	// namespace: the keys of the REST layer. It must be exactly the
	// store's key (watch events carry objects, not keys): the cache's
	// order and its continue tokens are made of these keys.
	KeyFunc func(obj runtime.Object) (string, error)
}

// Config configures a Cacher.
type Config struct {
	// Store is the store wrapped: it feeds the caches and answers
	// everything the caches do not. Required.
	Store storage.Interface
	// Resources are the prefixes cached; lists of other prefixes go to
	// Store.
	Resources []Resource
	// WaitTimeout is DefaultWaitTimeout when zero.
	WaitTimeout time.Duration
	// ShareObjects makes GetList copy only the top-level struct of each
	// cached object, sharing its maps, slices and pointers with the cache
	// (as kube-apiserver's watch cache shares its objects), instead of
	// deep-copying it: for 5,000 Services about 2 ms instead of 9-12 ms
	// (BenchmarkList5k). Only for callers that never modify a listed
	// object beyond its top-level fields; svcnet's callers today read,
	// encode or delete by name (REST list and deletecollection, allocator
	// repair, services/proxy, the ServiceCIDR and IngressClass lookups).
	ShareObjects bool
	// Logger is slog.Default() when nil.
	Logger *slog.Logger
}

// Cacher is a storage.Interface that answers GetList from memory for the
// configured resources and passes everything else to the wrapped store.
type Cacher struct {
	storage.Interface
	waitTimeout time.Duration
	share       bool
	resources   []*resource // sorted by prefix, none below another
}

var _ storage.Interface = (*Cacher)(nil)

// resource is the cache of one Resource.
type resource struct {
	prefix   string
	itemType reflect.Type // the struct NewFunc points to
	cache    *cache
	feed     *feed
}

// New returns a Cacher over cfg.Store; its caches fill once Run runs, and
// until then every read goes to the store.
func New(cfg Config) (*Cacher, error) {
	if cfg.Store == nil {
		return nil, errors.New("cacher: Store is required")
	}
	if cfg.WaitTimeout <= 0 {
		cfg.WaitTimeout = DefaultWaitTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	c := &Cacher{Interface: cfg.Store, waitTimeout: cfg.WaitTimeout, share: cfg.ShareObjects}
	for _, res := range cfg.Resources {
		r, err := newResource(cfg, res)
		if err != nil {
			return nil, err
		}
		c.resources = append(c.resources, r)
	}
	sort.Slice(c.resources, func(i, j int) bool { return c.resources[i].prefix < c.resources[j].prefix })
	for i, r := range c.resources {
		for _, other := range c.resources[i+1:] {
			if strings.HasPrefix(other.prefix, r.prefix) {
				return nil, fmt.Errorf("cacher: prefix %s lies below %s, whose watch would see another kind",
					other.prefix, r.prefix)
			}
		}
	}
	return c, nil
}

func newResource(cfg Config, res Resource) (*resource, error) {
	if !strings.HasPrefix(res.Prefix, "/") || res.NewFunc == nil {
		return nil, fmt.Errorf("cacher: resource %q needs an absolute Prefix and a NewFunc", res.Prefix)
	}
	prefix := res.Prefix
	if !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	t := reflect.TypeOf(res.NewFunc())
	if t == nil || t.Kind() != reflect.Pointer || t.Elem().Kind() != reflect.Struct {
		return nil, fmt.Errorf("cacher: NewFunc of %s returns %v, want a pointer to a struct", prefix, t)
	}
	keyFunc := res.KeyFunc
	if keyFunc == nil {
		keyFunc = defaultKeyFunc(prefix)
	}
	c := newCache()
	return &resource{
		prefix:   prefix,
		itemType: t.Elem(),
		cache:    c,
		feed: &feed{cache: c, store: cfg.Store, prefix: prefix, newFunc: res.NewFunc, keyFunc: keyFunc,
			logger: cfg.Logger.With("component", "cacher")},
	}, nil
}

// defaultKeyFunc returns the key of the REST layer: prefix + [ns/]name.
func defaultKeyFunc(prefix string) func(runtime.Object) (string, error) {
	return func(obj runtime.Object) (string, error) {
		acc, err := meta.Accessor(obj)
		if err != nil {
			return "", err
		}
		if acc.GetName() == "" {
			return "", fmt.Errorf("%T below %s has no name", obj, prefix)
		}
		if ns := acc.GetNamespace(); ns != "" {
			return prefix + ns + "/" + acc.GetName(), nil
		}
		return prefix + acc.GetName(), nil
	}
}

// Run fills the caches and keeps them current until ctx ends. Reads go
// to the store while a cache is not current.
func (c *Cacher) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, r := range c.resources {
		wg.Go(func() { r.feed.run(ctx) })
	}
	wg.Wait()
	return nil
}

// HasSynced reports whether every cache has completed its first list:
// from then on, lists are answered from memory (unless a cache is
// catching up after its watch broke, when the store answers).
func (c *Cacher) HasSynced() bool {
	for _, r := range c.resources {
		if !r.cache.synced.Load() {
			return false
		}
	}
	return true
}

// resourceFor returns the cache holding the keys below prefix, or nil.
func (c *Cacher) resourceFor(prefix string) *resource {
	for _, r := range c.resources {
		if strings.HasPrefix(prefix, r.prefix) {
			return r
		}
	}
	return nil
}

package loadbalancer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"

	"github.com/svcnet/svcnet/internal/controller/keyqueue"
)

// Event reasons, as upstream's service controller and MetalLB use them.
const (
	EventEnsuring         = "EnsuringLoadBalancer"
	EventEnsured          = "EnsuredLoadBalancer"
	EventDeleting         = "DeletingLoadBalancer"
	EventDeleted          = "DeletedLoadBalancer"
	EventAllocationFailed = "AllocationFailed"
)

// Config configures the controller.
type Config struct {
	Client kubernetes.Interface
	// Informers provides the Service informer. The caller starts it after
	// New.
	Informers informers.SharedInformerFactory
	// Pools are the address ranges handed out, lowest free address first,
	// pools in order. With none, Services stay pending.
	Pools []Pool
	// Class is the spec.loadBalancerClass this controller serves. Empty
	// means the default controller, which serves only Services without a
	// class, as upstream's service controller does; Services of any other
	// class are left alone.
	Class    string
	Recorder record.EventRecorder
	Logger   *slog.Logger
}

// Controller assigns LoadBalancer addresses to Services.
type Controller struct {
	cfg      Config
	queue    *keyqueue.Queue
	services corelisters.ServiceLister
	synced   cache.InformerSynced

	mu           sync.Mutex
	addrs        *addrs
	held         map[string][]netip.Addr // service key -> addresses it holds
	warnedNoPool bool
}

// New builds the controller and registers its Service event handlers.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil || cfg.Informers == nil {
		return nil, errors.New("loadbalancer controller: client and informers required")
	}
	for _, p := range cfg.Pools {
		if !p.First.IsValid() || !p.Last.IsValid() || p.First.Is4() != p.Last.Is4() || p.Last.Less(p.First) {
			return nil, fmt.Errorf("loadbalancer controller: invalid pool %s", p)
		}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Recorder == nil {
		cfg.Recorder = &record.FakeRecorder{}
	}
	inf := cfg.Informers.Core().V1().Services()
	c := &Controller{
		cfg:      cfg,
		services: inf.Lister(),
		synced:   inf.Informer().HasSynced,
		addrs:    newAddrs(cfg.Pools),
		held:     map[string][]netip.Addr{},
	}
	c.queue = keyqueue.New(keyqueue.Config{Name: "loadbalancer", Sync: c.sync, Logger: cfg.Logger,
		RateLimiter: workqueue.NewTypedItemExponentialFailureRateLimiter[string](10*time.Millisecond, 100*time.Second),
		Failed:      "Synced LoadBalancer Service with errors", KeyName: "service"})
	_, err := inf.Informer().AddEventHandler(c.queue.Handler())
	if err != nil {
		return nil, fmt.Errorf("loadbalancer controller: add event handler: %w", err)
	}
	return c, nil
}

// Run waits for the Service cache, rebuilds the addresses in use from every
// Service's status, then syncs Services until ctx is done.
func (c *Controller) Run(ctx context.Context) error {
	defer c.queue.ShutDown()
	if !cache.WaitForCacheSync(ctx.Done(), c.synced) {
		return nil
	}
	if err := c.rebuild(); err != nil {
		return fmt.Errorf("loadbalancer controller: %w", err)
	}
	if c.cfg.Class == "" {
		// The default controller speaks for the cluster's pools.
		published := make(chan struct{})
		go func() { defer close(published); c.publishPools(ctx) }()
		defer func() { <-published }()
	}
	c.cfg.Logger.Info("Started LoadBalancer controller", "pools", len(c.cfg.Pools), "class", c.cfg.Class)
	c.queue.Run(ctx, 1)
	return nil
}

// rebuild marks the pool addresses in every Service's status as held, the
// oldest Service winning when two claim the same address (the other gets a
// new one on its sync).
func (c *Controller) rebuild() error {
	svcs, err := c.services.List(labels.Everything())
	if err != nil {
		return fmt.Errorf("list services: %w", err)
	}
	slices.SortFunc(svcs, func(a, b *corev1.Service) int {
		if d := a.CreationTimestamp.Compare(b.CreationTimestamp.Time); d != 0 {
			return d
		}
		return compareKeys(a, b)
	})
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, svc := range svcs {
		if svc.Spec.Type != corev1.ServiceTypeLoadBalancer {
			continue
		}
		key := svcKey(svc)
		for _, a := range ingressAddrs(svc) {
			if _, ok := c.addrs.claim(a, key); ok {
				c.held[key] = append(c.held[key], a)
			}
		}
	}
	return nil
}

// handles reports whether svc's loadBalancerClass is the one this
// controller serves.
func (c *Controller) handles(svc *corev1.Service) bool {
	if svc.Spec.LoadBalancerClass == nil {
		return c.cfg.Class == ""
	}
	return c.cfg.Class != "" && *svc.Spec.LoadBalancerClass == c.cfg.Class
}

// sync reconciles the addresses of one Service.
func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	svc, err := c.services.Services(ns).Get(name)
	if apierrors.IsNotFound(err) {
		c.releaseAll(key)
		return nil
	}
	if err != nil {
		return err
	}
	switch {
	case svc.Spec.Type != corev1.ServiceTypeLoadBalancer:
		return c.cleanup(ctx, svc, key)
	case !c.handles(svc):
		// Another controller's Service: keep its pool addresses out of
		// our hands for as long as it holds them.
		c.mu.Lock()
		var keep []netip.Addr
		for _, a := range ingressAddrs(svc) {
			if _, ok := c.addrs.claim(a, key); ok {
				keep = append(keep, a)
			}
		}
		c.setHeldLocked(key, keep)
		c.mu.Unlock()
		return nil
	}
	if len(c.cfg.Pools) == 0 {
		c.mu.Lock()
		warned := c.warnedNoPool
		c.warnedNoPool = true
		c.mu.Unlock()
		if !warned {
			c.cfg.Logger.Warn("Left LoadBalancer Services pending: no IP pools configured", "service", key)
		}
		return nil
	}
	got, err := c.assign(svc, key)
	if err != nil {
		c.cfg.Recorder.Eventf(svc, corev1.EventTypeWarning, EventAllocationFailed, "Failed to allocate IP for %q: %v", key, err)
		c.cfg.Logger.Warn("Allocated no LoadBalancer IP", "service", key, "err", err)
		// Retried when another Service frees an address.
		return nil
	}
	want := ingressFor(got)
	if ingressEqual(svc.Status.LoadBalancer.Ingress, want) {
		return nil
	}
	c.cfg.Recorder.Event(svc, corev1.EventTypeNormal, EventEnsuring, "Ensuring load balancer")
	upd := svc.DeepCopy()
	upd.Status.LoadBalancer.Ingress = want
	if _, err := c.cfg.Client.CoreV1().Services(ns).UpdateStatus(ctx, upd, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("update status: %w", err)
	}
	c.cfg.Recorder.Event(svc, corev1.EventTypeNormal, EventEnsured, "Ensured load balancer")
	c.cfg.Logger.Info("Assigned LoadBalancer IPs", "service", key, "ips", got)
	return nil
}

// cleanup frees the addresses of a Service that is no longer of type
// LoadBalancer and clears its status.loadBalancer if it shows ours.
func (c *Controller) cleanup(ctx context.Context, svc *corev1.Service, key string) error {
	held := c.releaseAll(key)
	ours := len(held) > 0
	for _, a := range ingressAddrs(svc) {
		ours = ours || c.addrs.inPools(a)
	}
	if len(svc.Status.LoadBalancer.Ingress) == 0 || !ours {
		return nil
	}
	c.cfg.Recorder.Event(svc, corev1.EventTypeNormal, EventDeleting, "Deleting load balancer")
	upd := svc.DeepCopy()
	upd.Status.LoadBalancer = corev1.LoadBalancerStatus{}
	if _, err := c.cfg.Client.CoreV1().Services(svc.Namespace).UpdateStatus(ctx, upd, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("clear status: %w", err)
	}
	c.cfg.Recorder.Event(svc, corev1.EventTypeNormal, EventDeleted, "Deleted load balancer")
	c.cfg.Logger.Info("Released LoadBalancer IPs", "service", key, "ips", held)
	return nil
}

// assign returns the addresses svc should have, one per IP family served,
// keeping those it already shows or holds when they are still valid.
func (c *Controller) assign(svc *corev1.Service, key string) ([]netip.Addr, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	prev := c.held[key]
	var got []netip.Addr
	fail := func(err error) ([]netip.Addr, error) {
		for _, a := range got {
			if !slices.Contains(prev, a) {
				c.addrs.release(a, key)
			}
		}
		return nil, err
	}
	if s := svc.Spec.LoadBalancerIP; s != "" {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return fail(fmt.Errorf("spec.loadBalancerIP %q is not a valid IP address", s))
		}
		a = a.Unmap()
		if owner, ok := c.addrs.claim(a, key); !ok {
			if owner != "" {
				return fail(fmt.Errorf("requested IP %s is already in use by Service %q", a, owner))
			}
			return fail(fmt.Errorf("requested IP %s is not in any LoadBalancer IP pool", a))
		}
		got = append(got, a)
	} else {
		current := append(ingressAddrs(svc), prev...)
		for i, v6 := range families(svc) {
			required := i == 0 || (svc.Spec.IPFamilyPolicy != nil && *svc.Spec.IPFamilyPolicy == corev1.IPFamilyPolicyRequireDualStack)
			if !c.addrs.hasFamily(v6) {
				if required {
					return fail(fmt.Errorf("no LoadBalancer IP pool for %s", familyName(v6)))
				}
				continue
			}
			a, ok := c.reuseLocked(current, key, v6)
			if !ok {
				var err error
				if a, err = c.addrs.allocate(key, v6); err != nil {
					if required {
						return fail(fmt.Errorf("%s: %w", familyName(v6), err))
					}
					continue
				}
			}
			got = append(got, a)
		}
	}
	c.setHeldLocked(key, got)
	return got, nil
}

// reuseLocked claims the first of current of the family that is still in a
// pool and not another Service's.
func (c *Controller) reuseLocked(current []netip.Addr, key string, v6 bool) (netip.Addr, bool) {
	for _, a := range current {
		if a.Is6() != v6 {
			continue
		}
		if _, ok := c.addrs.claim(a, key); ok {
			return a, true
		}
	}
	return netip.Addr{}, false
}

// setHeldLocked records that key holds exactly addrs, freeing the rest.
func (c *Controller) setHeldLocked(key string, addrs []netip.Addr) {
	freed := false
	for _, a := range c.held[key] {
		if !slices.Contains(addrs, a) {
			c.addrs.release(a, key)
			freed = true
		}
	}
	if len(addrs) == 0 {
		delete(c.held, key)
	} else {
		c.held[key] = addrs
	}
	if freed {
		c.enqueuePendingLocked()
	}
}

// releaseAll frees every address key holds and returns them.
func (c *Controller) releaseAll(key string) []netip.Addr {
	c.mu.Lock()
	defer c.mu.Unlock()
	held := c.held[key]
	c.setHeldLocked(key, nil)
	return held
}

// enqueuePendingLocked queues our Services still waiting for an address,
// since one was just freed.
func (c *Controller) enqueuePendingLocked() {
	svcs, err := c.services.List(labels.Everything())
	if err != nil {
		return
	}
	for _, svc := range svcs {
		if svc.Spec.Type == corev1.ServiceTypeLoadBalancer && c.handles(svc) && len(svc.Status.LoadBalancer.Ingress) == 0 {
			c.queue.Add(svcKey(svc))
		}
	}
}

// families returns the IP families svc asks for, IPv6 as true, primary
// first; IPv4 when unset.
func families(svc *corev1.Service) []bool {
	if len(svc.Spec.IPFamilies) == 0 {
		return []bool{false}
	}
	var out []bool
	for _, f := range svc.Spec.IPFamilies {
		out = append(out, f == corev1.IPv6Protocol)
	}
	return out
}

func familyName(v6 bool) string {
	if v6 {
		return "IPv6"
	}
	return "IPv4"
}

// ingressAddrs returns the IPs of svc's status.loadBalancer.ingress.
func ingressAddrs(svc *corev1.Service) []netip.Addr {
	var out []netip.Addr
	for _, in := range svc.Status.LoadBalancer.Ingress {
		if a, err := netip.ParseAddr(in.IP); err == nil {
			out = append(out, a.Unmap())
		}
	}
	return out
}

// ingressFor returns the status entries for addrs, each in VIP mode.
func ingressFor(addrs []netip.Addr) []corev1.LoadBalancerIngress {
	out := make([]corev1.LoadBalancerIngress, 0, len(addrs))
	for _, a := range addrs {
		mode := corev1.LoadBalancerIPModeVIP
		out = append(out, corev1.LoadBalancerIngress{IP: a.String(), IPMode: &mode})
	}
	return out
}

func ingressEqual(got, want []corev1.LoadBalancerIngress) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i].IP != want[i].IP || got[i].Hostname != "" || got[i].IPMode == nil || *got[i].IPMode != *want[i].IPMode {
			return false
		}
	}
	return true
}

func svcKey(svc *corev1.Service) string { return svc.Namespace + "/" + svc.Name }

func compareKeys(a, b *corev1.Service) int { return strings.Compare(svcKey(a), svcKey(b)) }

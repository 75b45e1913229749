package servicecidr

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"

	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	networkinglisters "k8s.io/client-go/listers/networking/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/svcnet/svcnet/internal/controller/keyqueue"
)

// Finalizer holds the deletion of a ServiceCIDR whose addresses are in use.
const Finalizer = "networking.k8s.io/service-cidr-finalizer"

// Condition messages, as upstream's controller writes them.
const (
	readyMessage       = "Kubernetes Service CIDR is ready"
	terminatingMessage = "There are still IPAddresses referencing the ServiceCIDR, please remove them or create a new ServiceCIDR"
)

// fieldManager names the controller's writes.
const fieldManager = "servicecidr-controller"

// Config configures the controller.
type Config struct {
	Client    kubernetes.Interface
	Informers informers.SharedInformerFactory
	Logger    *slog.Logger
}

// Controller keeps the finalizer and Ready condition of ServiceCIDRs.
type Controller struct {
	cfg    Config
	cidrs  networkinglisters.ServiceCIDRLister
	ips    networkinglisters.IPAddressLister
	synced []cache.InformerSynced
	queue  *keyqueue.Queue
}

// New returns the controller, registering its ServiceCIDR and IPAddress
// informers.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil || cfg.Informers == nil {
		return nil, fmt.Errorf("servicecidr: client and informers are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	c := &Controller{cfg: cfg}
	c.queue = keyqueue.New(keyqueue.Config{Name: "servicecidr", Sync: c.sync, Logger: cfg.Logger,
		Started: "Started ServiceCIDR controller", Failed: "Synced ServiceCIDR with errors", KeyName: "serviceCIDR"})
	cidrs := cfg.Informers.Networking().V1().ServiceCIDRs()
	ips := cfg.Informers.Networking().V1().IPAddresses()
	c.cidrs, c.ips = cidrs.Lister(), ips.Lister()
	c.synced = []cache.InformerSynced{cidrs.Informer().HasSynced, ips.Informer().HasSynced}
	if _, err := cidrs.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.queue.Enqueue,
		UpdateFunc: func(_, obj any) { c.queue.Enqueue(obj) },
		// A ServiceCIDR going away may have covered the addresses of
		// another one being deleted.
		DeleteFunc: func(any) { c.enqueueTerminating() },
	}); err != nil {
		return nil, err
	}
	if _, err := ips.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		DeleteFunc: func(any) { c.enqueueTerminating() },
	}); err != nil {
		return nil, err
	}
	return c, nil
}

// Run syncs ServiceCIDRs until ctx is done.
func (c *Controller) Run(ctx context.Context) error {
	c.queue.Run(ctx, 1, c.synced...)
	return nil
}

// enqueueTerminating queues every ServiceCIDR waiting on its finalizer.
func (c *Controller) enqueueTerminating() {
	all, err := c.cidrs.List(labels.Everything())
	if err != nil {
		return
	}
	for _, sc := range all {
		if sc.DeletionTimestamp != nil {
			c.queue.Enqueue(sc)
		}
	}
}

// sync reconciles the ServiceCIDR named key.
func (c *Controller) sync(ctx context.Context, key string) error {
	cur, err := c.cidrs.Get(key)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if cur.DeletionTimestamp == nil {
		return c.ensureReady(ctx, cur)
	}
	if !slices.Contains(cur.Finalizers, Finalizer) {
		return nil
	}
	if ip, ok := c.uncoveredAddress(cur); ok {
		c.cfg.Logger.Info("Held deletion of a ServiceCIDR with addresses in use", "serviceCIDR", cur.Name, "ip", ip.String())
		return c.setCondition(ctx, cur, metav1.ConditionFalse, networkingv1.ServiceCIDRReasonTerminating, terminatingMessage)
	}
	upd := cur.DeepCopy()
	upd.Finalizers = slices.DeleteFunc(upd.Finalizers, func(f string) bool { return f == Finalizer })
	_, err = c.cfg.Client.NetworkingV1().ServiceCIDRs().Update(ctx, upd, metav1.UpdateOptions{FieldManager: fieldManager})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return fmt.Errorf("removing the finalizer of %s: %w", cur.Name, keyqueue.ErrRetry)
	}
	return err
}

// ensureReady adds the finalizer and the Ready=True condition.
func (c *Controller) ensureReady(ctx context.Context, cur *networkingv1.ServiceCIDR) error {
	if !slices.Contains(cur.Finalizers, Finalizer) {
		upd := cur.DeepCopy()
		upd.Finalizers = append(upd.Finalizers, Finalizer)
		var err error
		if cur, err = c.cfg.Client.NetworkingV1().ServiceCIDRs().Update(ctx, upd, metav1.UpdateOptions{FieldManager: fieldManager}); err != nil {
			if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
				return fmt.Errorf("adding the finalizer of %s: %w", upd.Name, keyqueue.ErrRetry)
			}
			return err
		}
	}
	return c.setCondition(ctx, cur, metav1.ConditionTrue, "", readyMessage)
}

// setCondition writes the Ready condition unless it already says so.
func (c *Controller) setCondition(ctx context.Context, cur *networkingv1.ServiceCIDR, status metav1.ConditionStatus, reason, message string) error {
	if old := meta.FindStatusCondition(cur.Status.Conditions, networkingv1.ServiceCIDRConditionReady); old != nil &&
		old.Status == status && old.Reason == reason {
		return nil
	}
	upd := cur.DeepCopy()
	meta.SetStatusCondition(&upd.Status.Conditions, metav1.Condition{Type: networkingv1.ServiceCIDRConditionReady,
		Status: status, Reason: reason, Message: message})
	_, err := c.cfg.Client.NetworkingV1().ServiceCIDRs().UpdateStatus(ctx, upd, metav1.UpdateOptions{FieldManager: fieldManager})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return fmt.Errorf("status of %s: %w", cur.Name, keyqueue.ErrRetry)
	}
	return err
}

// uncoveredAddress returns an IPAddress inside sc that no other
// ServiceCIDR, not itself being deleted, also contains.
func (c *Controller) uncoveredAddress(sc *networkingv1.ServiceCIDR) (netip.Addr, bool) {
	all, err := c.cidrs.List(labels.Everything())
	if err != nil {
		return netip.Addr{}, false
	}
	var others []netip.Prefix
	for _, o := range all {
		if o.Name != sc.Name && o.DeletionTimestamp == nil {
			others = append(others, prefixes(o)...)
		}
	}
	mine := prefixes(sc)
	ips, err := c.ips.List(labels.Everything())
	if err != nil {
		return netip.Addr{}, false
	}
	for _, a := range ips {
		ip, err := netip.ParseAddr(a.Name)
		if err != nil || !containedIn(ip, mine) || containedIn(ip, others) {
			continue
		}
		return ip, true
	}
	return netip.Addr{}, false
}

func prefixes(sc *networkingv1.ServiceCIDR) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range sc.Spec.CIDRs {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
		}
	}
	return out
}

func containedIn(ip netip.Addr, ps []netip.Prefix) bool {
	for _, p := range ps {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

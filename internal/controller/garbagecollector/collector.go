package garbagecollector

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/metadata/metadatainformer"
	"k8s.io/client-go/tools/cache"

	"github.com/svcnet/svcnet/internal/controller"
)

// Config configures the collector.
type Config struct {
	Metadata  metadata.Interface
	Resources []controller.Resource
	// ResyncInterval bounds how long a dangling reference can survive a
	// missed event (default 30s).
	ResyncInterval time.Duration
	Logger         *slog.Logger
}

// Collector is the garbage collector.
type Collector struct {
	cfg       Config
	informers map[schema.GroupVersionResource]cache.SharedIndexInformer
	byKind    map[schema.GroupVersionKind]controller.Resource
	trigger   chan struct{}
}

// New returns a collector.
func New(cfg Config) (*Collector, error) {
	if cfg.Metadata == nil {
		return nil, fmt.Errorf("garbagecollector: metadata client required")
	}
	if cfg.ResyncInterval == 0 {
		cfg.ResyncInterval = 30 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	c := &Collector{cfg: cfg, informers: map[schema.GroupVersionResource]cache.SharedIndexInformer{},
		byKind: map[schema.GroupVersionKind]controller.Resource{}, trigger: make(chan struct{}, 1)}
	for _, r := range cfg.Resources {
		c.byKind[r.GVR.GroupVersion().WithKind(r.Kind)] = r
	}
	return c, nil
}

// Run watches every resource and sweeps until ctx is done.
func (c *Collector) Run(ctx context.Context) error {
	factory := metadatainformer.NewSharedInformerFactory(c.cfg.Metadata, 0)
	handler := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(interface{}) { c.poke() },
		UpdateFunc: func(interface{}, interface{}) { c.poke() },
		DeleteFunc: func(interface{}) { c.poke() },
	}
	for _, r := range c.cfg.Resources {
		inf := factory.ForResource(r.GVR).Informer()
		if _, err := inf.AddEventHandler(handler); err != nil {
			return err
		}
		c.informers[r.GVR] = inf
	}
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	for gvr, ok := range factory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			return fmt.Errorf("garbagecollector: cache of %s did not sync", gvr)
		}
	}
	ticker := time.NewTicker(c.cfg.ResyncInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-c.trigger:
		case <-ticker.C:
		}
		if err := c.sweep(ctx); err != nil && ctx.Err() == nil {
			c.cfg.Logger.Warn("Swept owner graph with errors", "err", err)
		}
	}
}

func (c *Collector) poke() {
	select {
	case c.trigger <- struct{}{}:
	default:
	}
}

// node is one object in the owner graph.
type node struct {
	res controller.Resource
	obj *metav1.PartialObjectMetadata
}

// sweep makes one pass over the owner graph built from the caches.
func (c *Collector) sweep(ctx context.Context) error {
	byUID := map[types.UID]node{}
	dependents := map[types.UID][]node{}
	for _, r := range c.cfg.Resources {
		for _, item := range c.informers[r.GVR].GetStore().List() {
			obj, ok := item.(*metav1.PartialObjectMetadata)
			if !ok {
				continue
			}
			n := node{res: r, obj: obj}
			byUID[obj.UID] = n
			for _, ref := range obj.OwnerReferences {
				dependents[ref.UID] = append(dependents[ref.UID], n)
			}
		}
	}
	var firstErr error
	note := func(err error) {
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) && firstErr == nil {
			firstErr = err
		}
	}
	for uid, n := range byUID {
		if n.obj.DeletionTimestamp == nil {
			continue
		}
		switch {
		case hasFinalizer(n.obj, metav1.FinalizerOrphanDependents):
			note(c.orphan(ctx, n, dependents[uid]))
		case hasFinalizer(n.obj, metav1.FinalizerDeleteDependents):
			note(c.foreground(ctx, n, dependents[uid]))
		}
	}
	for _, n := range byUID {
		if len(n.obj.OwnerReferences) == 0 {
			continue
		}
		note(c.checkOwners(ctx, n, byUID))
	}
	return firstErr
}

// checkOwners deletes n when all its owners are gone, or drops the
// references to the owners that are gone.
func (c *Collector) checkOwners(ctx context.Context, n node, byUID map[types.UID]node) error {
	var alive []metav1.OwnerReference
	for _, ref := range n.obj.OwnerReferences {
		if _, ok := byUID[ref.UID]; ok {
			alive = append(alive, ref)
			continue
		}
		exists, err := c.ownerExists(ctx, n, ref)
		if err != nil {
			return err
		}
		if exists {
			alive = append(alive, ref)
		}
	}
	switch {
	case len(alive) == len(n.obj.OwnerReferences):
		return nil
	case len(alive) == 0:
		c.cfg.Logger.Info("Deleted object whose owners are gone", "resource", n.res.GVR.Resource,
			"namespace", n.obj.Namespace, "name", n.obj.Name)
		policy := metav1.DeletePropagationBackground
		uid := n.obj.UID
		return c.client(n).Delete(ctx, n.obj.Name, metav1.DeleteOptions{
			PropagationPolicy: &policy, Preconditions: &metav1.Preconditions{UID: &uid}})
	default:
		return c.patchOwners(ctx, n, alive)
	}
}

// ownerExists asks the API (not the cache, which may lag) whether the
// owner named by ref exists with ref's UID.
func (c *Collector) ownerExists(ctx context.Context, n node, ref metav1.OwnerReference) (bool, error) {
	gv, err := schema.ParseGroupVersion(ref.APIVersion)
	if err != nil {
		return false, nil // an unparsable reference can never resolve
	}
	r, ok := c.byKind[gv.WithKind(ref.Kind)]
	if !ok {
		return true, nil // unknown kinds are left alone
	}
	ns := ""
	if r.Namespaced {
		ns = n.obj.Namespace
	}
	owner, err := c.cfg.Metadata.Resource(r.GVR).Namespace(ns).Get(ctx, ref.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return owner.UID == ref.UID, nil
}

// foreground deletes the dependents of a foreground-deleted owner and
// removes its finalizer once none is left.
func (c *Collector) foreground(ctx context.Context, owner node, deps []node) error {
	if len(deps) == 0 {
		return c.removeFinalizer(ctx, owner, metav1.FinalizerDeleteDependents)
	}
	policy := metav1.DeletePropagationForeground
	for _, d := range deps {
		if d.obj.DeletionTimestamp != nil {
			continue
		}
		if err := c.client(d).Delete(ctx, d.obj.Name, metav1.DeleteOptions{PropagationPolicy: &policy}); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	}
	return nil
}

// orphan removes the owner's references from its dependents, then its
// orphan finalizer.
func (c *Collector) orphan(ctx context.Context, owner node, deps []node) error {
	for _, d := range deps {
		var keep []metav1.OwnerReference
		for _, ref := range d.obj.OwnerReferences {
			if ref.UID != owner.obj.UID {
				keep = append(keep, ref)
			}
		}
		if err := c.patchOwners(ctx, d, keep); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	}
	return c.removeFinalizer(ctx, owner, metav1.FinalizerOrphanDependents)
}

func (c *Collector) patchOwners(ctx context.Context, n node, refs []metav1.OwnerReference) error {
	if refs == nil {
		refs = []metav1.OwnerReference{}
	}
	return c.mergePatch(ctx, n, map[string]interface{}{"ownerReferences": refs})
}

func (c *Collector) removeFinalizer(ctx context.Context, n node, finalizer string) error {
	keep := []string{}
	for _, f := range n.obj.Finalizers {
		if f != finalizer {
			keep = append(keep, f)
		}
	}
	return c.mergePatch(ctx, n, map[string]interface{}{"finalizers": keep})
}

// mergePatch patches metadata fields, guarded by the resourceVersion the
// decision was based on.
func (c *Collector) mergePatch(ctx context.Context, n node, fields map[string]interface{}) error {
	fields["resourceVersion"] = n.obj.ResourceVersion
	data, err := json.Marshal(map[string]interface{}{"metadata": fields})
	if err != nil {
		return err
	}
	_, err = c.client(n).Patch(ctx, n.obj.Name, types.MergePatchType, data, metav1.PatchOptions{})
	return err
}

func (c *Collector) client(n node) metadata.ResourceInterface {
	if n.res.Namespaced {
		return c.cfg.Metadata.Resource(n.res.GVR).Namespace(n.obj.Namespace)
	}
	return c.cfg.Metadata.Resource(n.res.GVR)
}

func hasFinalizer(obj *metav1.PartialObjectMetadata, f string) bool {
	for _, x := range obj.Finalizers {
		if x == f {
			return true
		}
	}
	return false
}

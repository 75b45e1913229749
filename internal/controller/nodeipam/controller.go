package nodeipam

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"

	"github.com/svcnet/svcnet/internal/controller/keyqueue"
)

// Config configures the controller.
type Config struct {
	Client    kubernetes.Interface
	Informers informers.SharedInformerFactory
	// ClusterCIDRs are the pod ranges: one, or an IPv4 and an IPv6 one.
	ClusterCIDRs []netip.Prefix
	// NodeMaskSizeIPv4 / IPv6 are the per-node block sizes (upstream
	// defaults: /24 and /64).
	NodeMaskSizeIPv4 int
	NodeMaskSizeIPv6 int
	Recorder         record.EventRecorder
	Logger           *slog.Logger
}

// Controller assigns pod CIDRs to nodes.
type Controller struct {
	cfg    Config
	nodes  corelisters.NodeLister
	synced cache.InformerSynced
	queue  *keyqueue.Queue

	mu     sync.Mutex
	ranges []*blocks // one per cluster CIDR, in order
}

// New returns the controller, registering its Node informer.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil || cfg.Informers == nil || len(cfg.ClusterCIDRs) == 0 {
		return nil, fmt.Errorf("nodeipam: client, informers and cluster CIDRs are required")
	}
	if cfg.NodeMaskSizeIPv4 == 0 {
		cfg.NodeMaskSizeIPv4 = 24
	}
	if cfg.NodeMaskSizeIPv6 == 0 {
		cfg.NodeMaskSizeIPv6 = 64
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	c := &Controller{cfg: cfg}
	c.queue = keyqueue.New(keyqueue.Config{Name: "nodeipam", Sync: c.sync, Logger: cfg.Logger,
		Failed: "Assigned no pod CIDR", KeyName: "node"})
	for _, cidr := range cfg.ClusterCIDRs {
		size := cfg.NodeMaskSizeIPv4
		if cidr.Addr().Is6() {
			size = cfg.NodeMaskSizeIPv6
		}
		b, err := newBlocks(cidr, size)
		if err != nil {
			return nil, err
		}
		c.ranges = append(c.ranges, b)
	}
	inf := cfg.Informers.Core().V1().Nodes()
	c.nodes, c.synced = inf.Lister(), inf.Informer().HasSynced
	_, err := inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.queue.Enqueue,
		UpdateFunc: func(_, obj any) { c.queue.Enqueue(obj) },
		DeleteFunc: c.onDelete,
	})
	return c, err
}

func (c *Controller) onDelete(obj any) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	n, ok := obj.(*corev1.Node)
	if !ok {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range n.Spec.PodCIDRs {
		if p, err := netip.ParsePrefix(s); err == nil {
			for _, b := range c.ranges {
				b.release(p)
			}
		}
	}
}

// Run seeds the blocks from the existing nodes, then assigns CIDRs to
// nodes without one until ctx is done.
func (c *Controller) Run(ctx context.Context) error {
	defer c.queue.ShutDown()
	if !cache.WaitForCacheSync(ctx.Done(), c.synced) {
		return nil
	}
	nodes, err := c.nodes.List(labels.Everything())
	if err != nil {
		return err
	}
	c.mu.Lock()
	for _, n := range nodes {
		c.occupy(n)
	}
	c.mu.Unlock()
	c.queue.Run(ctx, 1)
	return nil
}

// occupy records the blocks a node already holds. Callers hold mu.
func (c *Controller) occupy(n *corev1.Node) {
	for _, s := range n.Spec.PodCIDRs {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			continue
		}
		for _, b := range c.ranges {
			b.occupy(p)
		}
	}
}

// sync gives node name its pod CIDRs when it has none.
func (c *Controller) sync(ctx context.Context, name string) error {
	n, err := c.nodes.Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	c.mu.Lock()
	if len(n.Spec.PodCIDRs) > 0 || n.Spec.PodCIDR != "" {
		c.occupy(n)
		c.mu.Unlock()
		return nil
	}
	var cidrs []string
	var got []netip.Prefix
	for _, b := range c.ranges {
		p, err := b.allocate()
		if err != nil {
			for i, g := range got {
				c.ranges[i].release(g)
			}
			c.mu.Unlock()
			if c.cfg.Recorder != nil {
				c.cfg.Recorder.Eventf(n, corev1.EventTypeWarning, "CIDRNotAvailable", "Node %s status is now: CIDRNotAvailable", n.Name)
			}
			return err
		}
		got = append(got, p)
		cidrs = append(cidrs, p.String())
	}
	c.mu.Unlock()
	patch, _ := json.Marshal(map[string]any{"spec": map[string]any{"podCIDR": cidrs[0], "podCIDRs": cidrs}})
	if _, err := c.cfg.Client.CoreV1().Nodes().Patch(ctx, name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}); err != nil {
		c.mu.Lock()
		for i, g := range got {
			c.ranges[i].release(g)
		}
		c.mu.Unlock()
		return fmt.Errorf("patch node: %w", err)
	}
	c.cfg.Logger.Info("Assigned pod CIDR", "node", name, "podCIDRs", cidrs)
	if c.cfg.Recorder != nil {
		c.cfg.Recorder.Eventf(n, corev1.EventTypeNormal, "CIDRAssignmentSucceeded", "Assigned pod CIDRs %v", cidrs)
	}
	return nil
}

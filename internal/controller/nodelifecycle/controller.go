package nodelifecycle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	coordlisters "k8s.io/client-go/listers/coordination/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"
)

// Defaults, upstream's kube-controller-manager flags of the same meaning.
const (
	// DefaultGracePeriod is --node-monitor-grace-period: 50s since
	// Kubernetes 1.32 (40s before), so a kubelet posting every 10s gets
	// its retries in before its Node is marked Unknown.
	DefaultGracePeriod = 50 * time.Second
	// DefaultStartupGracePeriod is --node-startup-grace-period: how long a
	// Node that never posted a Ready condition may stay silent.
	DefaultStartupGracePeriod = time.Minute
	// DefaultMonitorPeriod is --node-monitor-period.
	DefaultMonitorPeriod = 5 * time.Second
	// DefaultPodEvictionTimeout is the tolerationSeconds upstream's
	// DefaultTolerationSeconds admission gives every pod for the
	// not-ready and unreachable taints.
	DefaultPodEvictionTimeout = 5 * time.Minute
)

// Condition reasons and messages, as upstream writes them.
const (
	reasonUnknown      = "NodeStatusUnknown"
	messageUnknown     = "Kubelet stopped posting node status."
	reasonNeverUpdated = "NodeStatusNeverUpdated"
	messageNeverUpdate = "Kubelet never posted node status."
)

// podNodeIndex indexes Pods by spec.nodeName.
const podNodeIndex = "nodelifecycle.spec.nodeName"

// Config configures the controller.
type Config struct {
	Client kubernetes.Interface
	// Informers provides the Node, Lease and Pod informers. The caller
	// starts it after New.
	Informers informers.SharedInformerFactory
	// GracePeriod is how long a Node may go without a heartbeat before it
	// is marked Unknown (default 50s).
	GracePeriod time.Duration
	// StartupGracePeriod replaces GracePeriod for Nodes that never posted
	// a Ready condition (default 1m).
	StartupGracePeriod time.Duration
	// MonitorPeriod is how often Nodes are checked (default 5s).
	MonitorPeriod time.Duration
	// PodEvictionTimeout is how long after the NoExecute taint a pod with
	// no matching toleration is deleted (default 5m). A pod's own
	// tolerationSeconds win over it.
	PodEvictionTimeout time.Duration
	// Clock defaults to the real clock; tests pass a fake one.
	Clock    clock.WithTicker
	Recorder record.EventRecorder
	Logger   *slog.Logger
}

// Controller watches Node heartbeats and handles Nodes that went silent.
type Controller struct {
	cfg    Config
	nodes  corelisters.NodeLister
	leases coordlisters.LeaseLister
	pods   cache.Indexer
	synced []cache.InformerSynced

	mu     sync.Mutex
	health map[string]*health

	// passes counts finished monitor passes, for tests.
	passes atomic.Int64
}

// health is what the controller last saw of a Node's heartbeats.
type health struct {
	heartbeat time.Time // Ready condition's lastHeartbeatTime
	renew     time.Time // Lease spec.renewTime
	// probe is the controller's time when a heartbeat last advanced, or
	// when the Node was first seen.
	probe time.Time
	// advanced is false while probe is only the first sight.
	advanced bool
}

// New builds the controller and registers its informers.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil || cfg.Informers == nil {
		return nil, errors.New("nodelifecycle controller: client and informers required")
	}
	if cfg.GracePeriod <= 0 {
		cfg.GracePeriod = DefaultGracePeriod
	}
	if cfg.StartupGracePeriod <= 0 {
		cfg.StartupGracePeriod = DefaultStartupGracePeriod
	}
	if cfg.MonitorPeriod <= 0 {
		cfg.MonitorPeriod = DefaultMonitorPeriod
	}
	if cfg.PodEvictionTimeout <= 0 {
		cfg.PodEvictionTimeout = DefaultPodEvictionTimeout
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Recorder == nil {
		cfg.Recorder = &record.FakeRecorder{}
	}
	nodeInf := cfg.Informers.Core().V1().Nodes()
	leaseInf := cfg.Informers.Coordination().V1().Leases()
	podInf := cfg.Informers.Core().V1().Pods()
	err := podInf.Informer().AddIndexers(cache.Indexers{podNodeIndex: func(obj any) ([]string, error) {
		if p, ok := obj.(*corev1.Pod); ok && p.Spec.NodeName != "" {
			return []string{p.Spec.NodeName}, nil
		}
		return nil, nil
	}})
	if err != nil {
		return nil, fmt.Errorf("nodelifecycle controller: add pod index: %w", err)
	}
	return &Controller{
		cfg:    cfg,
		nodes:  nodeInf.Lister(),
		leases: leaseInf.Lister(),
		pods:   podInf.Informer().GetIndexer(),
		synced: []cache.InformerSynced{nodeInf.Informer().HasSynced, leaseInf.Informer().HasSynced, podInf.Informer().HasSynced},
		health: map[string]*health{},
	}, nil
}

// Run waits for the caches, then checks every Node each MonitorPeriod
// until ctx is done.
func (c *Controller) Run(ctx context.Context) error {
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		return nil
	}
	ticker := c.cfg.Clock.NewTicker(c.cfg.MonitorPeriod)
	defer ticker.Stop()
	c.cfg.Logger.Info("Started node lifecycle controller", "gracePeriod", c.cfg.GracePeriod, "podEvictionTimeout", c.cfg.PodEvictionTimeout)
	for {
		c.monitor(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C():
		}
	}
}

// monitor checks every Node once.
func (c *Controller) monitor(ctx context.Context) {
	defer c.passes.Add(1)
	nodes, err := c.nodes.List(labels.Everything())
	if err != nil {
		c.cfg.Logger.Warn("Listed no Nodes", "err", err)
		return
	}
	seen := make(map[string]bool, len(nodes))
	for _, n := range nodes {
		seen[n.Name] = true
		if ctx.Err() != nil {
			return
		}
		if err := c.monitorNode(ctx, n); err != nil {
			c.cfg.Logger.Warn("Checked Node with errors", "node", n.Name, "err", err)
		}
	}
	c.mu.Lock()
	for name := range c.health {
		if !seen[name] {
			delete(c.health, name)
		}
	}
	c.mu.Unlock()
}

// observe records node's heartbeats and returns a copy of its health.
func (c *Controller) observe(node *corev1.Node, now time.Time) health {
	var hb, renew time.Time
	if cond := condition(node, corev1.NodeReady); cond != nil {
		hb = cond.LastHeartbeatTime.Time
	}
	if l, err := c.leases.Leases(corev1.NamespaceNodeLease).Get(node.Name); err == nil && l.Spec.RenewTime != nil {
		renew = l.Spec.RenewTime.Time
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	h, ok := c.health[node.Name]
	switch {
	case !ok:
		h = &health{heartbeat: hb, renew: renew, probe: now}
		c.health[node.Name] = h
	case !hb.Equal(h.heartbeat) || !renew.Equal(h.renew):
		h.heartbeat, h.renew, h.probe, h.advanced = hb, renew, now, true
	}
	return *h
}

// monitorNode brings one Node's conditions, taints and pods in line with
// its heartbeats.
func (c *Controller) monitorNode(ctx context.Context, node *corev1.Node) error {
	now := c.cfg.Clock.Now()
	h := c.observe(node, now)
	ready := condition(node, corev1.NodeReady)
	grace := c.cfg.GracePeriod
	if ready == nil {
		grace = c.cfg.StartupGracePeriod
	}
	stale := now.After(h.probe.Add(grace))
	if stale && (ready == nil || ready.Status != corev1.ConditionUnknown) {
		updated, err := c.markUnknown(ctx, node, now)
		if err != nil {
			return err
		}
		node, ready = updated, condition(updated, corev1.NodeReady)
	}

	taint := ""
	switch {
	case ready == nil, ready.Status == corev1.ConditionTrue:
	case ready.Status == corev1.ConditionFalse:
		taint = corev1.TaintNodeNotReady
	case !stale && h.advanced && h.probe.After(ready.LastTransitionTime.Time):
		// Heartbeats resumed after the Node went Unknown; the agent
		// will post its Ready condition in a moment.
	default:
		taint = corev1.TaintNodeUnreachable
	}
	if taints, changed := desiredTaints(node.Spec.Taints, taint, now); changed {
		upd := node.DeepCopy()
		upd.Spec.Taints = taints
		updated, err := c.cfg.Client.CoreV1().Nodes().Update(ctx, upd, metav1.UpdateOptions{})
		if err != nil {
			return fmt.Errorf("update taints: %w", err)
		}
		node = updated
		if taint == "" {
			c.cfg.Logger.Info("Removed Node taints", "node", node.Name)
		} else {
			c.cfg.Logger.Info("Tainted Node", "node", node.Name, "taint", taint)
		}
	}
	if taint == "" {
		return nil
	}
	var fallback time.Time
	if ready != nil {
		fallback = ready.LastTransitionTime.Time
	}
	return c.handlePods(ctx, node, now, fallback)
}

// markUnknown sets the Node's Ready condition, and those of the pressure
// conditions it has, to Unknown.
func (c *Controller) markUnknown(ctx context.Context, node *corev1.Node, now time.Time) (*corev1.Node, error) {
	upd := node.DeepCopy()
	t := metav1.NewTime(now)
	for _, typ := range []corev1.NodeConditionType{corev1.NodeReady, corev1.NodeMemoryPressure, corev1.NodeDiskPressure, corev1.NodePIDPressure} {
		i := conditionIndex(upd, typ)
		if i < 0 && typ != corev1.NodeReady {
			// Upstream adds the missing pressure conditions too; svcnet's
			// agent may never report them, so they are left out.
			continue
		}
		if i < 0 {
			upd.Status.Conditions = append(upd.Status.Conditions, corev1.NodeCondition{
				Type: typ, Status: corev1.ConditionUnknown, Reason: reasonNeverUpdated, Message: messageNeverUpdate,
				LastHeartbeatTime: upd.CreationTimestamp, LastTransitionTime: t,
			})
			continue
		}
		cond := &upd.Status.Conditions[i]
		if cond.Status == corev1.ConditionUnknown {
			continue
		}
		cond.Status, cond.Reason, cond.Message, cond.LastTransitionTime = corev1.ConditionUnknown, reasonUnknown, messageUnknown, t
	}
	updated, err := c.cfg.Client.CoreV1().Nodes().UpdateStatus(ctx, upd, metav1.UpdateOptions{})
	if err != nil {
		return nil, fmt.Errorf("update status: %w", err)
	}
	c.cfg.Logger.Info("Marked Node Unknown", "node", node.Name, "gracePeriod", c.cfg.GracePeriod)
	c.cfg.Recorder.Eventf(nodeRef(node), corev1.EventTypeNormal, "NodeNotReady", "Node %s status is now: %s", node.Name, "NodeNotReady")
	return updated, nil
}

// handlePods marks the pods of a down Node not Ready and deletes those
// whose eviction time has come.
func (c *Controller) handlePods(ctx context.Context, node *corev1.Node, now, fallbackAdded time.Time) error {
	objs, err := c.pods.ByIndex(podNodeIndex, node.Name)
	if err != nil {
		return fmt.Errorf("list pods: %w", err)
	}
	var errs []error
	for _, obj := range objs {
		pod, ok := obj.(*corev1.Pod)
		if !ok || pod.DeletionTimestamp != nil {
			continue
		}
		if at, evict := evictionTime(pod, node.Spec.Taints, c.cfg.PodEvictionTimeout, fallbackAdded); evict && !now.Before(at) {
			errs = append(errs, c.evict(ctx, pod))
			continue
		}
		errs = append(errs, c.markNotReady(ctx, pod, now))
	}
	return errors.Join(errs...)
}

// markNotReady sets pod's Ready condition to False, so endpoints drop it.
func (c *Controller) markNotReady(ctx context.Context, pod *corev1.Pod, now time.Time) error {
	i := -1
	for j, cond := range pod.Status.Conditions {
		if cond.Type == corev1.PodReady {
			i = j
		}
	}
	if i < 0 || pod.Status.Conditions[i].Status == corev1.ConditionFalse {
		return nil
	}
	upd := pod.DeepCopy()
	upd.Status.Conditions[i].Status = corev1.ConditionFalse
	upd.Status.Conditions[i].LastTransitionTime = metav1.NewTime(now)
	if _, err := c.cfg.Client.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, upd, metav1.UpdateOptions{}); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("mark pod %s/%s not ready: %w", pod.Namespace, pod.Name, err)
	}
	c.cfg.Recorder.Event(pod, corev1.EventTypeWarning, "NodeNotReady", "Node is not ready")
	return nil
}

// evict deletes pod from its down Node.
func (c *Controller) evict(ctx context.Context, pod *corev1.Pod) error {
	c.cfg.Recorder.Eventf(pod, corev1.EventTypeNormal, "TaintManagerEviction", "Marking for deletion Pod %s/%s", pod.Namespace, pod.Name)
	uid := pod.UID
	err := c.cfg.Client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	c.cfg.Logger.Info("Evicted Pod from unreachable Node", "pod", pod.Namespace+"/"+pod.Name, "node", pod.Spec.NodeName)
	return nil
}

func condition(node *corev1.Node, typ corev1.NodeConditionType) *corev1.NodeCondition {
	if i := conditionIndex(node, typ); i >= 0 {
		return &node.Status.Conditions[i]
	}
	return nil
}

func conditionIndex(node *corev1.Node, typ corev1.NodeConditionType) int {
	for i := range node.Status.Conditions {
		if node.Status.Conditions[i].Type == typ {
			return i
		}
	}
	return -1
}

// nodeRef refers to a Node in events by name and UID, as upstream does.
func nodeRef(node *corev1.Node) *corev1.ObjectReference {
	return &corev1.ObjectReference{APIVersion: "v1", Kind: "Node", Name: node.Name, UID: node.UID}
}

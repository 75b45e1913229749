package daemonset

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"

	"github.com/svcnet/svcnet/internal/controller/claim"
	"github.com/svcnet/svcnet/internal/controller/ownedpods"
)

// Events, as upstream's.
const (
	reasonSelectingAll = "SelectingAll"
	reasonFailedPod    = "FailedDaemonPod"
	reasonSucceededPod = "SucceededDaemonPod"
)

// state is what one sync of a DaemonSet works from.
type state struct {
	key   string
	ds    *appsv1.DaemonSet
	nodes []*corev1.Node // sorted by name
	hash  string
	gen   *int64
	// pods are every pod ds controls; byNode those of them not both
	// finished and terminating, by the node they are on or meant for.
	pods   []*corev1.Pod
	byNode map[string][]*corev1.Pod
}

// sync reconciles the DaemonSet named by key.
func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	cached, err := c.dsLister.DaemonSets(ns).Get(name)
	if apierrors.IsNotFound(err) {
		c.expectations.Forget(key)
		return nil
	}
	if err != nil {
		return err
	}
	ds := cached.DeepCopy()
	if reflect.DeepEqual(ds.Spec.Selector, &metav1.LabelSelector{}) {
		c.cfg.Recorder.Eventf(ds, corev1.EventTypeWarning, reasonSelectingAll, "This daemon set is selecting all pods. A non-empty selector is required.")
		return nil
	}
	sel, err := metav1.LabelSelectorAsSelector(ds.Spec.Selector)
	if err != nil || sel.Empty() {
		// The API server rejects these; never act on "select everything".
		return nil
	}
	// Whether a deleted DaemonSet's revisions still exist is unknown (the
	// garbage collector may have taken them first): leave it alone.
	if ds.DeletionTimestamp != nil {
		return nil
	}
	nodes, err := c.nodeLister.List(labels.Everything())
	if err != nil {
		return err
	}
	slices.SortFunc(nodes, func(a, b *corev1.Node) int { return cmp.Compare(a.Name, b.Name) })
	cur, old, err := c.history(ctx, ds, sel)
	if err != nil {
		return fmt.Errorf("revisions: %w", err)
	}
	st := &state{key: key, ds: ds, nodes: nodes, hash: cur.Labels[RevisionHashLabel], gen: templateGeneration(ds)}
	if err := c.claimPods(ctx, st, sel); err != nil {
		return err
	}
	if !c.expectations.Satisfied(key) {
		// Our last writes are not in the cache yet: only the status, and
		// not for this generation.
		return c.writeStatus(ctx, st, false)
	}
	err = c.manage(ctx, st)
	if err == nil && c.expectations.Satisfied(key) && ds.Spec.UpdateStrategy.Type == appsv1.RollingUpdateDaemonSetStrategyType {
		err = c.rollingUpdate(ctx, st)
	}
	if err == nil {
		err = c.cleanupHistory(ctx, ds, old, st.pods)
	}
	return errors.Join(err, c.writeStatus(ctx, st, true))
}

// recheck returns the Claimer's check that ds may still adopt: it is
// neither gone, replaced nor being deleted, read from the API server.
func (c *Controller) recheck(ds *appsv1.DaemonSet) func(context.Context) error {
	return func(ctx context.Context) error {
		fresh, err := c.cfg.Client.AppsV1().DaemonSets(ds.Namespace).Get(ctx, ds.Name, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("recheck daemonset: %w", err)
		}
		if fresh.UID != ds.UID || fresh.DeletionTimestamp != nil {
			return fmt.Errorf("daemonset %s/%s changed: may not adopt", ds.Namespace, ds.Name)
		}
		return nil
	}
}

// claimPods adopts and releases pods and groups ds's pods by node.
func (c *Controller) claimPods(ctx context.Context, st *state, sel labels.Selector) error {
	ds := st.ds
	all, err := c.podLister.Pods(ds.Namespace).List(labels.Everything())
	if err != nil {
		return err
	}
	cl := &claim.Claimer[*corev1.Pod]{
		Owner: ds, Kind: kind(), Selector: sel,
		Patch: func(ctx context.Context, name string, data []byte) error {
			_, err := c.cfg.Client.CoreV1().Pods(ds.Namespace).Patch(ctx, name, types.StrategicMergePatchType, data, metav1.PatchOptions{})
			return err
		},
		Recheck: c.recheck(ds),
	}
	pods, claimErr := cl.Claim(ctx, all)
	st.pods = pods
	st.byNode = map[string][]*corev1.Pod{}
	for _, p := range pods {
		if isTerminal(p) && p.DeletionTimestamp != nil {
			continue // finished and going: nothing left to do with it
		}
		node, err := targetNode(p)
		if err != nil {
			c.cfg.Logger.Debug("Skipped daemon pod without a node", "daemonset", st.key, "pod", p.Name, "err", err)
			continue
		}
		st.byNode[node] = append(st.byNode[node], p)
	}
	return claimErr
}

// deletion is a pod to delete; force deletes it with no grace period.
type deletion struct {
	pod   *corev1.Pod
	force bool
}

// nodePlan is what ds needs on one node.
type nodePlan struct {
	create bool
	// excess are pods to delete: extra copies, or all of them on a node
	// ds no longer belongs on.
	excess []*corev1.Pod
	// succeeded and failed pods are deleted (failed ones under back-off)
	// and replaced by the next sync.
	succeeded, failed []*corev1.Pod
}

// planNode decides, from shouldRun's answers, what to do with the daemon
// pods on one node. With surge, the oldest current pod and the oldest old
// pod may both stay while the current one is not available yet.
func planNode(run, keep bool, pods []*corev1.Pod, surge bool, hash string, gen *int64, minReadySeconds int32, now time.Time) nodePlan {
	var p nodePlan
	switch {
	case run && len(pods) == 0:
		p.create = true
	case keep:
		var running []*corev1.Pod
		for _, pod := range pods {
			switch {
			case pod.DeletionTimestamp != nil:
			case pod.Status.Phase == corev1.PodFailed:
				p.failed = append(p.failed, pod)
			case pod.Status.Phase == corev1.PodSucceeded:
				p.succeeded = append(p.succeeded, pod)
			default:
				running = append(running, pod)
			}
		}
		slices.SortStableFunc(running, olderFirst)
		if !surge {
			if len(running) > 1 {
				p.excess = append(p.excess, running[1:]...)
			}
			break
		}
		if len(running) <= 1 {
			// Surging needs one live pod per node, even beside ones
			// terminating or failed.
			p.create = run && len(running) == 0
			break
		}
		var oldestCur, oldestOld *corev1.Pod
		for _, pod := range running {
			if isUpdated(pod, hash, gen) {
				if oldestCur == nil {
					oldestCur = pod
					continue
				}
			} else if oldestOld == nil {
				oldestOld = pod
				continue
			}
			p.excess = append(p.excess, pod)
		}
		if oldestCur != nil && oldestOld != nil && (!ownedpods.IsReady(oldestOld) || ownedpods.IsAvailable(oldestCur, minReadySeconds, now)) {
			p.excess = append(p.excess, oldestOld)
		}
	case len(pods) > 0:
		for _, pod := range pods {
			if pod.DeletionTimestamp == nil {
				p.excess = append(p.excess, pod)
			}
		}
	}
	return p
}

// manage starts missing daemon pods and deletes those that must go.
func (c *Controller) manage(ctx context.Context, st *state) error {
	ds := st.ds
	surge := allowsSurge(ds)
	now := c.cfg.Now()
	var create []string
	var del []deletion
	known := map[string]bool{}
	for _, node := range st.nodes {
		known[node.Name] = true
		run, keep := shouldRun(node, ds)
		p := planNode(run, keep, st.byNode[node.Name], surge, st.hash, st.gen, ds.Spec.MinReadySeconds, now)
		if p.create {
			create = append(create, node.Name)
		}
		for _, pod := range p.excess {
			del = append(del, deletion{pod: pod})
		}
		for _, pod := range p.succeeded {
			c.cfg.Recorder.Eventf(ds, corev1.EventTypeNormal, reasonSucceededPod,
				"Found succeeded daemon pod %s/%s on node %s, will try to delete it", pod.Namespace, pod.Name, node.Name)
			del = append(del, deletion{pod: pod})
		}
		for _, pod := range p.failed {
			// The agent may be rejecting the pod at once: replace it
			// under back-off, per node and generation, as upstream.
			bk := fmt.Sprintf("%s/%d/%s", ds.UID, ds.Status.ObservedGeneration, node.Name)
			if delay, waiting := c.failed.wait(bk); waiting {
				c.queue.AddAfter(st.key, delay)
				continue
			}
			c.failed.next(bk)
			c.cfg.Recorder.Eventf(ds, corev1.EventTypeWarning, reasonFailedPod,
				"Found failed daemon pod %s/%s on node %s, will try to kill it", pod.Namespace, pod.Name, node.Name)
			del = append(del, deletion{pod: pod})
		}
	}
	// Pods of nodes that are gone: no scheduler will bind them and no
	// agent finish them, so bound ones are force-deleted as upstream's pod
	// GC does.
	for _, node := range sortedKeys(st.byNode) {
		if known[node] {
			continue
		}
		for _, pod := range st.byNode[node] {
			bound := pod.Spec.NodeName != ""
			if bound || pod.DeletionTimestamp == nil {
				del = append(del, deletion{pod: pod, force: bound})
			}
		}
	}
	return c.syncNodes(ctx, st, del, create)
}

// rollingUpdate runs one step of a RollingUpdate.
func (c *Controller) rollingUpdate(ctx context.Context, st *state) error {
	ds := st.ds
	r := &rollout{hash: st.hash, generation: st.gen, minReadySeconds: ds.Spec.MinReadySeconds, now: c.cfg.Now(),
		pods: map[string][]*corev1.Pod{}}
	nodes := map[string]*corev1.Node{}
	for _, n := range st.nodes {
		nodes[n.Name] = n
	}
	for node, pods := range st.byNode {
		r.pods[node] = pods
	}
	for _, n := range st.nodes {
		if run, _ := shouldRun(n, ds); run {
			r.desired++
			if _, ok := r.pods[n.Name]; !ok {
				r.pods[n.Name] = nil
			}
		}
	}
	r.shouldRun = func(node string) bool {
		n, ok := nodes[node]
		if !ok {
			return false
		}
		run, _ := shouldRun(n, ds)
		return run
	}
	var err error
	if r.maxSurge, r.maxUnavailable, err = rolloutLimits(ds, r.desired); err != nil {
		return err
	}
	pods, create := r.plan()
	del := make([]deletion, len(pods))
	for i, p := range pods {
		del[i] = deletion{pod: p}
	}
	return c.syncNodes(ctx, st, del, create)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

package daemonset

import (
	"fmt"
	"slices"
	"time"

	"github.com/svcnet/svcnet/internal/controller/ownedpods"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// rolloutLimits returns how many pods a RollingUpdate of ds may start
// beyond one per node (maxSurge) and leave unavailable (maxUnavailable)
// out of desired nodes, percentages rounded up. Both 0, which validation
// forbids, means one unavailable, as upstream.
func rolloutLimits(ds *appsv1.DaemonSet, desired int) (surge, unavailable int, err error) {
	ru := ds.Spec.UpdateStrategy.RollingUpdate
	if ds.Spec.UpdateStrategy.Type != appsv1.RollingUpdateDaemonSetStrategyType || ru == nil {
		return 0, 0, nil
	}
	if ru.MaxSurge != nil {
		if surge, err = intstr.GetScaledValueFromIntOrPercent(ru.MaxSurge, desired, true); err != nil {
			return 0, 0, fmt.Errorf("maxSurge: %w", err)
		}
	}
	if ru.MaxUnavailable != nil {
		if unavailable, err = intstr.GetScaledValueFromIntOrPercent(ru.MaxUnavailable, desired, true); err != nil {
			return 0, 0, fmt.Errorf("maxUnavailable: %w", err)
		}
	}
	if desired > 0 && surge == 0 && unavailable == 0 {
		unavailable = 1
	}
	return surge, unavailable, nil
}

// allowsSurge reports whether ds may run two pods on a node during an
// update.
func allowsSurge(ds *appsv1.DaemonSet) bool {
	surge, _, err := rolloutLimits(ds, 1)
	return err == nil && surge > 0
}

// rollout is the state a rolling update step decides on.
type rollout struct {
	hash            string
	generation      *int64
	minReadySeconds int32
	now             time.Time
	maxSurge        int
	maxUnavailable  int
	// desired is the number of nodes that should run a pod.
	desired int
	// pods maps each node with daemon pods, and each node that should run
	// one, to its pods that are not terminating (or nil).
	pods map[string][]*corev1.Pod
	// shouldRun reports whether a pod should be started on node now.
	shouldRun func(node string) bool
}

// split returns the current-template and old-template pod of a node, ok
// false when there are several of either (the manage step prunes them).
func (r *rollout) split(pods []*corev1.Pod) (cur, old *corev1.Pod, ok bool) {
	for _, p := range pods {
		if p.DeletionTimestamp != nil {
			continue
		}
		if isUpdated(p, r.hash, r.generation) {
			if cur != nil {
				return nil, nil, false
			}
			cur = p
		} else {
			if old != nil {
				return nil, nil, false
			}
			old = p
		}
	}
	return cur, old, true
}

func (r *rollout) available(p *corev1.Pod) bool {
	return ownedpods.IsAvailable(p, r.minReadySeconds, r.now)
}

func (r *rollout) nodes() []string {
	names := make([]string, 0, len(r.pods))
	for n := range r.pods {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// plan chooses the old pods to delete and the nodes to start a new pod on
// in one step, within maxUnavailable (no surge) or maxSurge. Nodes are
// considered in name order.
func (r *rollout) plan() (del []*corev1.Pod, create []string) {
	if r.maxSurge == 0 {
		return r.planUnavailable(), nil
	}
	return r.planSurge()
}

// planUnavailable deletes old pods so that at most maxUnavailable nodes
// lack an available current pod: old pods that are not available anyway
// always go, available ones while the budget lasts. The manage step then
// starts their replacements.
func (r *rollout) planUnavailable() []*corev1.Pod {
	unavailable := 0
	var replace, candidates []*corev1.Pod
	for _, node := range r.nodes() {
		cur, old, ok := r.split(r.pods[node])
		switch {
		case !ok, cur == nil && old == nil, cur != nil && old != nil:
			// Being created, pruned or replaced: not available.
			unavailable++
		case cur != nil:
			if !r.available(cur) {
				unavailable++
			}
		case !r.available(old):
			replace = append(replace, old)
			unavailable++
		case unavailable < r.maxUnavailable:
			candidates = append(candidates, old)
		}
	}
	budget := min(max(r.maxUnavailable-unavailable, 0), len(candidates))
	return append(replace, candidates[:budget]...)
}

// planSurge starts a current pod next to each old one that is not
// available, and next to at most maxSurge available old ones at a time;
// an old pod goes once the current pod beside it is available. Old pods
// on nodes the DaemonSet no longer belongs on go only while more pods are
// available than nodes want one, so the application never drops below
// full availability.
func (r *rollout) planSurge() (del []*corev1.Pod, create []string) {
	surged, available := 0, 0
	var allowed, candidates []string
	var leaving []*corev1.Pod
	for _, node := range r.nodes() {
		cur, old, ok := r.split(r.pods[node])
		if !ok {
			surged++
			continue
		}
		switch {
		case old != nil && r.available(old), old == nil && cur != nil && r.available(cur):
			available++
		}
		switch {
		case old == nil:
			// Nothing to replace; the manage step starts missing pods.
		case cur == nil && !r.available(old):
			if !r.shouldRun(node) {
				del = append(del, old)
				continue
			}
			allowed = append(allowed, node)
		case cur == nil:
			if !r.shouldRun(node) {
				leaving = append(leaving, old)
				continue
			}
			if surged < r.maxSurge {
				candidates = append(candidates, node)
			}
		case !r.available(cur):
			surged++
		default:
			del = append(del, old)
		}
	}
	if spare := min(available-r.desired, len(leaving)); spare > 0 {
		del = append(del, leaving[:spare]...)
	}
	budget := min(max(r.maxSurge-surged, 0), len(candidates))
	return del, append(allowed, candidates[:budget]...)
}

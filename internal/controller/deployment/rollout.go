package deployment

import (
	"context"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// rolloutRolling moves one step of a RollingUpdate: grow the new
// ReplicaSet within maxSurge, else shrink old ones within maxUnavailable.
func (c *Controller) rolloutRolling(ctx context.Context, d *appsv1.Deployment, rsList []*appsv1.ReplicaSet) error {
	newRS, old, err := c.replicaSets(ctx, d, rsList, true)
	if err != nil {
		return err
	}
	all := withNew(old, newRS)
	scaledUp, newRS, err := c.reconcileNew(ctx, all, newRS, d)
	if err != nil {
		return err
	}
	all = withNew(old, newRS)
	if scaledUp {
		return c.syncRolloutStatus(ctx, all, newRS, d)
	}
	scaledDown, old, err := c.reconcileOld(ctx, all, old, newRS, d)
	if err != nil {
		return err
	}
	all = withNew(old, newRS)
	if scaledDown {
		return c.syncRolloutStatus(ctx, all, newRS, d)
	}
	if complete(d, &d.Status) {
		if err := c.cleanup(ctx, old, d); err != nil {
			return err
		}
	}
	return c.syncRolloutStatus(ctx, all, newRS, d)
}

func (c *Controller) reconcileNew(ctx context.Context, all []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet, d *appsv1.Deployment) (bool, *appsv1.ReplicaSet, error) {
	if replicas(newRS) == desired(d) {
		return false, newRS, nil
	}
	if replicas(newRS) > desired(d) {
		return c.scaleRS(ctx, newRS, desired(d), d)
	}
	return c.scaleRS(ctx, newRS, newRSReplicas(d, all, newRS), d)
}

// reconcileOld shrinks old ReplicaSets as far as maxUnavailable allows,
// first dropping their unavailable pods. It returns the updated old list.
func (c *Controller) reconcileOld(ctx context.Context, all, old []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet, d *appsv1.Deployment) (bool, []*appsv1.ReplicaSet, error) {
	if sumSpec(active(old)) == 0 {
		return false, old, nil
	}
	minAvailable := desired(d) - maxUnavailable(d)
	newUnavailable := replicas(newRS) - newRS.Status.AvailableReplicas
	maxScaledDown := sumSpec(all) - minAvailable - newUnavailable
	if maxScaledDown <= 0 {
		return false, old, nil
	}
	old = append([]*appsv1.ReplicaSet(nil), old...)
	byCreation(old)

	// Unavailable pods of old ReplicaSets cost no availability: drop them.
	var cleaned int32
	for i, rs := range old {
		if cleaned >= maxScaledDown {
			break
		}
		unhealthy := replicas(rs) - rs.Status.AvailableReplicas
		if replicas(rs) == 0 || unhealthy <= 0 {
			continue
		}
		n := min(maxScaledDown-cleaned, unhealthy)
		_, got, err := c.scaleRS(ctx, rs, replicas(rs)-n, d)
		if err != nil {
			return cleaned > 0, old, err
		}
		old[i] = got
		cleaned += n
	}

	// Then available ones, down to minAvailable.
	available := sumStatus(withNew(old, newRS), func(s *appsv1.ReplicaSetStatus) int32 { return s.AvailableReplicas })
	var scaled int32
	if available > minAvailable {
		total := available - minAvailable
		for i, rs := range old {
			if scaled >= total {
				break
			}
			if replicas(rs) == 0 {
				continue
			}
			n := min(replicas(rs), total-scaled)
			_, got, err := c.scaleRS(ctx, rs, replicas(rs)-n, d)
			if err != nil {
				return cleaned+scaled > 0, old, err
			}
			old[i] = got
			scaled += n
		}
	}
	return cleaned+scaled > 0, old, nil
}

// rolloutRecreate scales every old ReplicaSet to zero, waits until their
// pods are gone, then brings up the new one.
func (c *Controller) rolloutRecreate(ctx context.Context, d *appsv1.Deployment, rsList []*appsv1.ReplicaSet) error {
	newRS, old, err := c.replicaSets(ctx, d, rsList, false)
	if err != nil {
		return err
	}
	scaledDown := false
	for i, rs := range old {
		if replicas(rs) == 0 {
			continue
		}
		scaled, got, err := c.scaleRS(ctx, rs, 0, d)
		if err != nil {
			return err
		}
		old[i] = got
		scaledDown = scaledDown || scaled
	}
	if scaledDown || c.oldPodsRunning(old) {
		return c.syncRolloutStatus(ctx, withNew(old, newRS), newRS, d)
	}
	if newRS == nil {
		if newRS, old, err = c.replicaSets(ctx, d, rsList, true); err != nil {
			return err
		}
	}
	if _, newRS, err = c.scaleRS(ctx, newRS, desired(d), d); err != nil {
		return err
	}
	if complete(d, &d.Status) {
		if err := c.cleanup(ctx, old, d); err != nil {
			return err
		}
	}
	return c.syncRolloutStatus(ctx, withNew(old, newRS), newRS, d)
}

// oldPodsRunning reports whether any pod of an old ReplicaSet has not
// finished (Recreate must not overlap old and new pods).
func (c *Controller) oldPodsRunning(old []*appsv1.ReplicaSet) bool {
	for _, rs := range old {
		if rs.Status.Replicas > 0 {
			return true
		}
		sel, err := metav1.LabelSelectorAsSelector(rs.Spec.Selector)
		if err != nil {
			continue
		}
		pods, err := c.podLister.Pods(rs.Namespace).List(sel)
		if err != nil {
			return true
		}
		for _, p := range pods {
			if ref := metav1.GetControllerOfNoCopy(p); ref == nil || ref.UID != rs.UID {
				continue
			}
			if p.Status.Phase != corev1.PodFailed && p.Status.Phase != corev1.PodSucceeded {
				return true
			}
		}
	}
	return false
}

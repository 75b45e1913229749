package daemonset

import (
	"context"
	"fmt"
	"slices"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/svcnet/svcnet/internal/controller/keyqueue"
	"github.com/svcnet/svcnet/internal/controller/ownedpods"
)

// calculateStatus counts, over the nodes, as upstream: desired nodes, the
// desired ones with a pod (current) whose oldest pod is ready, available
// and of the current template (updated), and the undesired ones that
// have a pod (misscheduled).
func calculateStatus(st *state, now time.Time) appsv1.DaemonSetStatus {
	ds := st.ds
	var s appsv1.DaemonSetStatus
	for _, node := range st.nodes {
		run, _ := shouldRun(node, ds)
		pods := st.byNode[node.Name]
		if !run {
			if len(pods) > 0 {
				s.NumberMisscheduled++
			}
			continue
		}
		s.DesiredNumberScheduled++
		if len(pods) == 0 {
			continue
		}
		s.CurrentNumberScheduled++
		pod := slices.MinFunc(pods, olderFirst)
		if ownedpods.IsReady(pod) {
			s.NumberReady++
			if ownedpods.IsAvailable(pod, ds.Spec.MinReadySeconds, now) {
				s.NumberAvailable++
			}
		}
		if isUpdated(pod, st.hash, st.gen) {
			s.UpdatedNumberScheduled++
		}
	}
	s.NumberUnavailable = s.DesiredNumberScheduled - s.NumberAvailable
	return s
}

// writeStatus writes the counts, and observedGeneration when this sync
// acted on the current generation, unless nothing changed.
func (c *Controller) writeStatus(ctx context.Context, st *state, observed bool) error {
	ds := st.ds
	s := calculateStatus(st, c.cfg.Now())
	if ds.Spec.MinReadySeconds > 0 && s.NumberReady != s.NumberAvailable {
		c.queue.AddAfter(st.key, time.Duration(ds.Spec.MinReadySeconds)*time.Second)
	}
	cur := ds.Status
	s.ObservedGeneration, s.CollisionCount, s.Conditions = cur.ObservedGeneration, cur.CollisionCount, cur.Conditions
	if observed {
		s.ObservedGeneration = ds.Generation
	}
	if s.DesiredNumberScheduled == cur.DesiredNumberScheduled && s.CurrentNumberScheduled == cur.CurrentNumberScheduled &&
		s.NumberMisscheduled == cur.NumberMisscheduled && s.NumberReady == cur.NumberReady &&
		s.UpdatedNumberScheduled == cur.UpdatedNumberScheduled && s.NumberAvailable == cur.NumberAvailable &&
		s.NumberUnavailable == cur.NumberUnavailable && cur.ObservedGeneration >= ds.Generation {
		return nil
	}
	ds.Status = s
	_, err := c.cfg.Client.AppsV1().DaemonSets(ds.Namespace).UpdateStatus(ctx, ds, metav1.UpdateOptions{})
	switch {
	case err == nil, apierrors.IsNotFound(err):
		return nil
	case apierrors.IsConflict(err):
		return fmt.Errorf("update status: %w: %w", err, keyqueue.ErrRetry)
	}
	return fmt.Errorf("update status: %w", err)
}

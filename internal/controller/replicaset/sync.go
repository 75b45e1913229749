package replicaset

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"

	"github.com/svcnet/svcnet/internal/controller/claim"
	"github.com/svcnet/svcnet/internal/controller/ownedpods"
)

// sync brings the pods of the ReplicaSet named by key to its spec and
// writes its status.
func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	cached, err := c.rsLister.ReplicaSets(ns).Get(name)
	if apierrors.IsNotFound(err) {
		c.expectations.Forget(key)
		return nil
	}
	if err != nil {
		return err
	}
	rs := cached.DeepCopy()
	selector, err := metav1.LabelSelectorAsSelector(rs.Spec.Selector)
	if err != nil || selector.Empty() {
		// The API server rejects these; never act on "select everything".
		return nil
	}
	needsSync := c.expectations.Satisfied(key) && rs.DeletionTimestamp == nil

	all, err := c.podLister.Pods(ns).List(labels.Everything())
	if err != nil {
		return err
	}
	var candidates []*corev1.Pod
	for _, p := range all {
		if IsPodActive(p) {
			candidates = append(candidates, p)
		}
	}
	cl := &claim.Claimer[*corev1.Pod]{
		Owner: rs, Kind: kind(), Selector: selector,
		Patch: func(ctx context.Context, name string, data []byte) error {
			_, err := c.cfg.Client.CoreV1().Pods(ns).Patch(ctx, name, types.StrategicMergePatchType, data, metav1.PatchOptions{})
			return err
		},
		Recheck: func(ctx context.Context) error {
			fresh, err := c.cfg.Client.AppsV1().ReplicaSets(ns).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return fmt.Errorf("recheck replicaset: %w", err)
			}
			if fresh.UID != rs.UID || fresh.DeletionTimestamp != nil {
				return fmt.Errorf("replicaset %s changed: may not adopt", key)
			}
			return nil
		},
	}
	pods, claimErr := cl.Claim(ctx, candidates)

	var manageErr error
	if needsSync {
		manageErr = c.manage(ctx, key, rs, pods)
	}
	if err := c.writeStatus(ctx, key, rs, pods, manageErr); err != nil {
		return errors.Join(claimErr, manageErr, err)
	}
	return errors.Join(claimErr, manageErr)
}

// manage creates or deletes pods so that len(pods) reaches spec.replicas.
func (c *Controller) manage(ctx context.Context, key string, rs *appsv1.ReplicaSet, pods []*corev1.Pod) error {
	want := 1
	if rs.Spec.Replicas != nil {
		want = int(*rs.Spec.Replicas)
	}
	diff := len(pods) - want
	switch {
	case diff < 0:
		n := min(-diff, burstReplicas)
		c.expectations.Expect(key, n, nil)
		return c.createPods(ctx, key, rs, n)
	case diff > 0:
		n := min(diff, burstReplicas)
		victims := append([]*corev1.Pod(nil), pods...)
		sort.SliceStable(victims, func(i, j int) bool { return deleteFirst(victims[i], victims[j]) })
		victims = victims[:n]
		keys := make([]string, len(victims))
		for i, p := range victims {
			keys[i], _ = cache.MetaNamespaceKeyFunc(p)
		}
		c.expectations.Expect(key, 0, keys)
		return c.deletePods(ctx, key, rs, victims, keys)
	}
	return nil
}

// createPods creates n pods in batches of 1, 2, 4, ... (upstream's slow
// start), stopping after the first batch with an error so a failing
// quota or webhook costs one request, not n.
func (c *Controller) createPods(ctx context.Context, key string, rs *appsv1.ReplicaSet, n int) error {
	ref := metav1.NewControllerRef(rs, kind())
	created := 0
	for batch := 1; created < n; batch *= 2 {
		size := min(batch, n-created)
		var (
			wg   sync.WaitGroup
			mu   sync.Mutex
			errs []error
		)
		for i := 0; i < size; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				pod := podFromTemplate(&rs.Spec.Template, ref, rs.Namespace, podPrefix(rs.Name))
				got, err := c.cfg.Client.CoreV1().Pods(rs.Namespace).Create(ctx, pod, metav1.CreateOptions{})
				if err != nil {
					c.expectations.CreationObserved(key)
					if apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
						return
					}
					c.cfg.Recorder.Eventf(rs, corev1.EventTypeWarning, "FailedCreate", "Error creating: %v", err)
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					return
				}
				c.cfg.Recorder.Eventf(rs, corev1.EventTypeNormal, "SuccessfulCreate", "Created pod: %v", got.Name)
			}()
		}
		wg.Wait()
		created += size
		if len(errs) > 0 {
			for ; created < n; created++ {
				c.expectations.CreationObserved(key)
			}
			return fmt.Errorf("create pods: %w", errors.Join(errs...))
		}
	}
	return nil
}

// deletePods deletes victims in parallel.
func (c *Controller) deletePods(ctx context.Context, key string, rs *appsv1.ReplicaSet, victims []*corev1.Pod, keys []string) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for i, pod := range victims {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := c.cfg.Client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &pod.UID}})
			if err != nil {
				c.expectations.DeletionObserved(key, keys[i])
				if apierrors.IsNotFound(err) {
					return
				}
				c.cfg.Recorder.Eventf(rs, corev1.EventTypeWarning, "FailedDelete", "Error deleting: %v", err)
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
				return
			}
			c.cfg.Recorder.Eventf(rs, corev1.EventTypeNormal, "SuccessfulDelete", "Deleted pod: %v", pod.Name)
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		return fmt.Errorf("delete pods: %w", errors.Join(errs...))
	}
	return nil
}

// CalculateStatus returns the status of rs given the active pods it
// controls, at now. Conditions are carried over from rs.
func CalculateStatus(rs *appsv1.ReplicaSet, pods []*corev1.Pod, now time.Time) appsv1.ReplicaSetStatus {
	s := appsv1.ReplicaSetStatus{
		Replicas:           int32(len(pods)),
		ObservedGeneration: rs.Generation,
		Conditions:         rs.Status.Conditions,
	}
	tmpl := labels.Set(rs.Spec.Template.Labels).AsSelectorPreValidated()
	for _, p := range pods {
		if tmpl.Matches(labels.Set(p.Labels)) {
			s.FullyLabeledReplicas++
		}
		if ownedpods.IsReady(p) {
			s.ReadyReplicas++
			if ownedpods.IsAvailable(p, rs.Spec.MinReadySeconds, now) {
				s.AvailableReplicas++
			}
		}
	}
	return s
}

// writeStatus updates the status of rs when it changed, records a
// ReplicaFailure condition for manageErr, and requeues rs when ready pods
// are waiting out minReadySeconds.
func (c *Controller) writeStatus(ctx context.Context, key string, rs *appsv1.ReplicaSet, pods []*corev1.Pod, manageErr error) error {
	s := CalculateStatus(rs, pods, c.cfg.Now())
	s.Conditions = failureConditions(rs.Status.Conditions, manageErr, c.cfg.Now())
	if s.ReadyReplicas > s.AvailableReplicas && rs.Spec.MinReadySeconds > 0 {
		c.queue.AddAfter(key, time.Duration(rs.Spec.MinReadySeconds)*time.Second)
	}
	if apiequality.Semantic.DeepEqual(s, rs.Status) {
		return nil
	}
	rs.Status = s
	if _, err := c.cfg.Client.AppsV1().ReplicaSets(rs.Namespace).UpdateStatus(ctx, rs, metav1.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("update status: %w", err)
	}
	return nil
}

// failureConditions sets or clears the ReplicaFailure condition.
func failureConditions(conds []appsv1.ReplicaSetCondition, manageErr error, now time.Time) []appsv1.ReplicaSetCondition {
	var out []appsv1.ReplicaSetCondition
	var existing *appsv1.ReplicaSetCondition
	for i := range conds {
		if conds[i].Type == appsv1.ReplicaSetReplicaFailure {
			existing = &conds[i]
			continue
		}
		out = append(out, conds[i])
	}
	if manageErr == nil {
		return out
	}
	if existing != nil {
		return append(out, *existing)
	}
	reason := "FailedCreate"
	if strings.HasPrefix(manageErr.Error(), "delete") {
		reason = "FailedDelete"
	}
	return append(out, appsv1.ReplicaSetCondition{
		Type: appsv1.ReplicaSetReplicaFailure, Status: corev1.ConditionTrue,
		LastTransitionTime: metav1.NewTime(now), Reason: reason, Message: manageErr.Error(),
	})
}

package statefulset

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
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

// runningReady reports whether pod is Running, Ready and not terminating:
// the condition for OrderedReady to move to the next ordinal.
func runningReady(pod *corev1.Pod) bool {
	return pod.DeletionTimestamp == nil && pod.Status.Phase == corev1.PodRunning && ownedpods.IsReady(pod)
}

func available(pod *corev1.Pod, minReadySeconds int32, now time.Time) bool {
	if !runningReady(pod) {
		return false
	}
	c := ownedpods.ReadyCondition(pod)
	return minReadySeconds == 0 || !c.LastTransitionTime.Add(time.Duration(minReadySeconds)*time.Second).After(now)
}

func finished(pod *corev1.Pod) bool {
	return pod.Status.Phase == corev1.PodFailed || pod.Status.Phase == corev1.PodSucceeded
}

// ordinal returns the ordinal in the name of a pod of set, or -1.
func ordinal(set *appsv1.StatefulSet, name string) int {
	s, ok := strings.CutPrefix(name, set.Name+"-")
	if !ok {
		return -1
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || strconv.Itoa(n) != s {
		return -1
	}
	return n
}

// PodName is the name of the pod of set with ordinal ord.
func PodName(set *appsv1.StatefulSet, ord int) string { return set.Name + "-" + strconv.Itoa(ord) }

// newPod builds the pod of set with ordinal ord at revision rev.
func newPod(set *appsv1.StatefulSet, ord int, rev string) *corev1.Pod {
	t := set.Spec.Template.DeepCopy()
	name := PodName(set, ord)
	lbls := map[string]string{}
	for k, v := range t.Labels {
		lbls[k] = v
	}
	lbls[PodNameLabel] = name
	lbls[PodIndexLabel] = strconv.Itoa(ord)
	lbls[RevisionHashLabel] = rev
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:            name,
			Namespace:       set.Namespace,
			Labels:          lbls,
			Annotations:     t.Annotations,
			Finalizers:      t.Finalizers,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(set, kind())},
		},
		Spec: t.Spec,
	}
	pod.Spec.Hostname = name
	pod.Spec.Subdomain = set.Spec.ServiceName
	return pod
}

// sync reconciles the StatefulSet named by key.
func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	cached, err := c.setLister.StatefulSets(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	set := cached.DeepCopy()
	sel, err := metav1.LabelSelectorAsSelector(set.Spec.Selector)
	if err != nil || sel.Empty() {
		return nil
	}
	all, err := c.podLister.Pods(ns).List(labels.Everything())
	if err != nil {
		return err
	}
	cl := &claim.Claimer[*corev1.Pod]{
		Owner: set, Kind: kind(), Selector: sel,
		Patch: func(ctx context.Context, name string, data []byte) error {
			_, err := c.cfg.Client.CoreV1().Pods(ns).Patch(ctx, name, types.StrategicMergePatchType, data, metav1.PatchOptions{})
			return err
		},
		Recheck: func(ctx context.Context) error {
			fresh, err := c.cfg.Client.AppsV1().StatefulSets(ns).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return fmt.Errorf("recheck statefulset: %w", err)
			}
			if fresh.UID != set.UID || fresh.DeletionTimestamp != nil {
				return fmt.Errorf("statefulset %s changed: may not adopt", key)
			}
			return nil
		},
	}
	pods, claimErr := cl.Claim(ctx, all)
	var mine []*corev1.Pod
	for _, p := range pods {
		if ordinal(set, p.Name) >= 0 {
			mine = append(mine, p)
		}
	}
	updateRev, err := c.updateRevision(ctx, set)
	if err != nil {
		return errors.Join(claimErr, err)
	}
	var manageErr error
	if set.DeletionTimestamp == nil {
		manageErr = c.manage(ctx, set, mine, updateRev)
	}
	return errors.Join(claimErr, manageErr, c.writeStatus(ctx, set, mine, updateRev))
}

// updateRevision returns the name of the ControllerRevision of the set's
// template, creating it (with the next revision number) when missing.
func (c *Controller) updateRevision(ctx context.Context, set *appsv1.StatefulSet) (string, error) {
	revs, err := c.revLister.ControllerRevisions(set.Namespace).List(labels.Everything())
	if err != nil {
		return "", err
	}
	var maxRev int64
	var owned []*appsv1.ControllerRevision
	for _, r := range revs {
		if ref := metav1.GetControllerOfNoCopy(r); ref != nil && ref.UID == set.UID {
			owned = append(owned, r)
			maxRev = max(maxRev, r.Revision)
		}
	}
	want, err := newRevision(set, maxRev+1)
	if err != nil {
		return "", err
	}
	for _, r := range owned {
		if !bytes.Equal(r.Data.Raw, want.Data.Raw) {
			continue
		}
		if r.Revision < maxRev {
			// Back to an older template (rollback): it becomes the newest.
			r = r.DeepCopy()
			r.Revision = maxRev + 1
			if _, err := c.cfg.Client.AppsV1().ControllerRevisions(set.Namespace).Update(ctx, r, metav1.UpdateOptions{}); err != nil {
				return "", fmt.Errorf("update revision: %w", err)
			}
		}
		return r.Name, nil
	}
	_, err = c.cfg.Client.AppsV1().ControllerRevisions(set.Namespace).Create(ctx, want, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		got, getErr := c.cfg.Client.AppsV1().ControllerRevisions(set.Namespace).Get(ctx, want.Name, metav1.GetOptions{})
		if getErr != nil {
			return "", getErr
		}
		if ref := metav1.GetControllerOfNoCopy(got); ref != nil && ref.UID == set.UID && bytes.Equal(got.Data.Raw, want.Data.Raw) {
			return got.Name, nil
		}
		// A hash collision: the next hash includes a higher count.
		if set.Status.CollisionCount == nil {
			set.Status.CollisionCount = new(int32)
		}
		*set.Status.CollisionCount++
		if _, err := c.cfg.Client.AppsV1().StatefulSets(set.Namespace).UpdateStatus(ctx, set, metav1.UpdateOptions{}); err != nil {
			return "", err
		}
		return "", fmt.Errorf("revision %s: hash collision", want.Name)
	}
	if err != nil {
		return "", fmt.Errorf("create revision: %w", err)
	}
	return want.Name, nil
}

// manage creates missing ordinals, replaces finished pods, removes
// condemned ordinals from the highest, and rolls template changes from
// the highest ordinal, one pod at a time.
func (c *Controller) manage(ctx context.Context, set *appsv1.StatefulSet, pods []*corev1.Pod, rev string) error {
	n := 1
	if set.Spec.Replicas != nil {
		n = int(*set.Spec.Replicas)
	}
	start := 0
	if set.Spec.Ordinals != nil {
		start = int(set.Spec.Ordinals.Start)
	}
	parallel := set.Spec.PodManagementPolicy == appsv1.ParallelPodManagement
	byOrd := map[int]*corev1.Pod{}
	var condemned []*corev1.Pod
	for _, p := range pods {
		ord := ordinal(set, p.Name)
		if ord >= start && ord < start+n {
			byOrd[ord] = p
		} else {
			condemned = append(condemned, p)
		}
	}
	sort.Slice(condemned, func(i, j int) bool { return ordinal(set, condemned[i].Name) > ordinal(set, condemned[j].Name) })

	healthy := true
	for ord := start; ord < start+n; ord++ {
		p := byOrd[ord]
		switch {
		case p == nil:
			healthy = false
			if err := c.createPod(ctx, set, ord, rev); err != nil {
				return err
			}
			if !parallel {
				return nil
			}
		case finished(p) && p.DeletionTimestamp == nil:
			healthy = false
			if err := c.removePod(ctx, set, p); err != nil {
				return err
			}
			if !parallel {
				return nil
			}
		case !runningReady(p):
			healthy = false
			if !parallel {
				return nil
			}
		}
	}

	for _, p := range condemned {
		if p.DeletionTimestamp != nil {
			if !parallel {
				return nil
			}
			continue
		}
		if !parallel && !healthy {
			return nil
		}
		if err := c.removePod(ctx, set, p); err != nil {
			return err
		}
		if !parallel {
			return nil
		}
	}
	if len(condemned) > 0 || !healthy {
		return nil
	}

	if set.Spec.UpdateStrategy.Type == appsv1.OnDeleteStatefulSetStrategyType {
		return nil
	}
	partition := 0
	if ru := set.Spec.UpdateStrategy.RollingUpdate; ru != nil && ru.Partition != nil {
		partition = int(*ru.Partition)
	}
	for ord := start + n - 1; ord >= start+partition; ord-- {
		if p := byOrd[ord]; p.Labels[RevisionHashLabel] != rev {
			return c.removePod(ctx, set, p)
		}
	}
	return nil
}

func (c *Controller) createPod(ctx context.Context, set *appsv1.StatefulSet, ord int, rev string) error {
	pod := newPod(set, ord, rev)
	_, err := c.cfg.Client.CoreV1().Pods(set.Namespace).Create(ctx, pod, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		// The old incarnation is still terminating: wait for it.
		return nil
	}
	if err != nil {
		c.cfg.Recorder.Eventf(set, corev1.EventTypeWarning, "FailedCreate", "create Pod %s in StatefulSet %s failed error: %s", pod.Name, set.Name, err)
		return fmt.Errorf("create pod %s: %w", pod.Name, err)
	}
	c.cfg.Recorder.Eventf(set, corev1.EventTypeNormal, "SuccessfulCreate", "create Pod %s in StatefulSet %s successful", pod.Name, set.Name)
	return nil
}

func (c *Controller) removePod(ctx context.Context, set *appsv1.StatefulSet, pod *corev1.Pod) error {
	err := c.cfg.Client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &pod.UID}})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		c.cfg.Recorder.Eventf(set, corev1.EventTypeWarning, "FailedDelete", "delete Pod %s in StatefulSet %s failed error: %s", pod.Name, set.Name, err)
		return fmt.Errorf("delete pod %s: %w", pod.Name, err)
	}
	c.cfg.Recorder.Eventf(set, corev1.EventTypeNormal, "SuccessfulDelete", "delete Pod %s in StatefulSet %s successful", pod.Name, set.Name)
	return nil
}

// writeStatus derives and writes the set's status when it changed.
func (c *Controller) writeStatus(ctx context.Context, set *appsv1.StatefulSet, pods []*corev1.Pod, rev string) error {
	now := c.cfg.Now()
	s := appsv1.StatefulSetStatus{
		ObservedGeneration: set.Generation,
		CollisionCount:     set.Status.CollisionCount,
		UpdateRevision:     rev,
		CurrentRevision:    set.Status.CurrentRevision,
		Conditions:         set.Status.Conditions,
	}
	if s.CurrentRevision == "" {
		s.CurrentRevision = rev
	}
	for _, p := range pods {
		if p.DeletionTimestamp != nil {
			continue
		}
		s.Replicas++
		if runningReady(p) {
			s.ReadyReplicas++
			if available(p, set.Spec.MinReadySeconds, now) {
				s.AvailableReplicas++
			}
		}
		if p.Labels[RevisionHashLabel] == s.CurrentRevision {
			s.CurrentReplicas++
		}
		if p.Labels[RevisionHashLabel] == rev {
			s.UpdatedReplicas++
		}
	}
	want := int32(1)
	if set.Spec.Replicas != nil {
		want = *set.Spec.Replicas
	}
	// The rollout is done: the update revision becomes the current one.
	if s.UpdatedReplicas == want && s.ReadyReplicas == want && s.Replicas == want {
		s.CurrentRevision = rev
		s.CurrentReplicas = s.UpdatedReplicas
	}
	if set.Spec.MinReadySeconds > 0 && s.ReadyReplicas > s.AvailableReplicas {
		if key, err := cache.MetaNamespaceKeyFunc(set); err == nil {
			c.queue.AddAfter(key, time.Duration(set.Spec.MinReadySeconds)*time.Second)
		}
	}
	if apiequality.Semantic.DeepEqual(s, set.Status) {
		return nil
	}
	set.Status = s
	if _, err := c.cfg.Client.AppsV1().StatefulSets(set.Namespace).UpdateStatus(ctx, set, metav1.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("update status: %w", err)
	}
	return nil
}

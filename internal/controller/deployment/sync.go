package deployment

import (
	"context"
	"fmt"
	"sort"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"

	"github.com/svcnet/svcnet/internal/controller/claim"
)

// sync reconciles the Deployment named by key.
func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	cached, err := c.dLister.Deployments(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	d := cached.DeepCopy()
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil || sel.Empty() {
		c.cfg.Recorder.Eventf(d, corev1.EventTypeWarning, "SelectingAll", "This deployment is selecting all pods. A non-empty selector is required.")
		if d.Status.ObservedGeneration < d.Generation {
			d.Status.ObservedGeneration = d.Generation
			return c.updateStatus(ctx, d)
		}
		return nil
	}
	rsList, err := c.claimReplicaSets(ctx, d, sel)
	if err != nil {
		return err
	}
	if d.DeletionTimestamp != nil {
		newRS, old, err := c.replicaSets(ctx, d, rsList, false)
		if err != nil {
			return err
		}
		return c.syncStatus(ctx, withNew(old, newRS), newRS, d)
	}
	if err := c.checkPaused(ctx, d); err != nil {
		return err
	}
	if d.Spec.Paused {
		return c.syncScale(ctx, d, rsList)
	}
	scaling, err := c.isScalingEvent(ctx, d, rsList)
	if err != nil {
		return err
	}
	if scaling {
		return c.syncScale(ctx, d, rsList)
	}
	switch d.Spec.Strategy.Type {
	case appsv1.RecreateDeploymentStrategyType:
		return c.rolloutRecreate(ctx, d, rsList)
	case appsv1.RollingUpdateDeploymentStrategyType, "":
		return c.rolloutRolling(ctx, d, rsList)
	}
	return fmt.Errorf("unexpected deployment strategy type: %s", d.Spec.Strategy.Type)
}

// claimReplicaSets returns the ReplicaSets d controls, adopting and
// releasing as needed.
func (c *Controller) claimReplicaSets(ctx context.Context, d *appsv1.Deployment, sel labels.Selector) ([]*appsv1.ReplicaSet, error) {
	all, err := c.rsLister.ReplicaSets(d.Namespace).List(labels.Everything())
	if err != nil {
		return nil, err
	}
	cl := &claim.Claimer[*appsv1.ReplicaSet]{
		Owner: d, Kind: kind(), Selector: sel,
		Patch: func(ctx context.Context, name string, data []byte) error {
			_, err := c.cfg.Client.AppsV1().ReplicaSets(d.Namespace).Patch(ctx, name, types.StrategicMergePatchType, data, metav1.PatchOptions{})
			return err
		},
		Recheck: func(ctx context.Context) error {
			fresh, err := c.cfg.Client.AppsV1().Deployments(d.Namespace).Get(ctx, d.Name, metav1.GetOptions{})
			if err != nil {
				return fmt.Errorf("recheck deployment: %w", err)
			}
			if fresh.UID != d.UID || fresh.DeletionTimestamp != nil {
				return fmt.Errorf("deployment %s/%s changed: may not adopt", d.Namespace, d.Name)
			}
			return nil
		},
	}
	return cl.Claim(ctx, all)
}

func withNew(old []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet) []*appsv1.ReplicaSet {
	all := append([]*appsv1.ReplicaSet(nil), old...)
	if newRS != nil {
		all = append(all, newRS)
	}
	return all
}

// replicaSets splits rsList into the new ReplicaSet (the oldest whose
// template equals the Deployment's, ignoring the hash label) and the old
// ones, bringing the new one to the next revision. With create it makes
// the new ReplicaSet when there is none.
func (c *Controller) replicaSets(ctx context.Context, d *appsv1.Deployment, rsList []*appsv1.ReplicaSet, create bool) (*appsv1.ReplicaSet, []*appsv1.ReplicaSet, error) {
	rsList = append([]*appsv1.ReplicaSet(nil), rsList...)
	byCreation(rsList)
	var existing *appsv1.ReplicaSet
	var old []*appsv1.ReplicaSet
	for _, rs := range rsList {
		if existing == nil && equalIgnoreHash(&rs.Spec.Template, &d.Spec.Template) {
			existing = rs
			continue
		}
		old = append(old, rs)
	}
	newRS, err := c.newReplicaSet(ctx, d, existing, old, create)
	return newRS, old, err
}

func (c *Controller) newReplicaSet(ctx context.Context, d *appsv1.Deployment, existing *appsv1.ReplicaSet, old []*appsv1.ReplicaSet, create bool) (*appsv1.ReplicaSet, error) {
	newRevision := maxRevision(old) + 1
	if existing != nil {
		rs := existing.DeepCopy()
		if setNewRSAnnotations(d, rs, newRevision) || rs.Spec.MinReadySeconds != d.Spec.MinReadySeconds {
			rs.Spec.MinReadySeconds = d.Spec.MinReadySeconds
			return c.cfg.Client.AppsV1().ReplicaSets(rs.Namespace).Update(ctx, rs, metav1.UpdateOptions{})
		}
		needsUpdate := setDeploymentRevision(d, rs.Annotations[RevisionAnnotation])
		if hasProgressDeadline(d) && getCondition(d.Status, appsv1.DeploymentProgressing) == nil {
			setCondition(&d.Status, newCondition(appsv1.DeploymentProgressing, corev1.ConditionTrue, ReasonFoundNewRS,
				fmt.Sprintf("Found new replica set %q", rs.Name), c.cfg.Now()))
			needsUpdate = true
		}
		if needsUpdate {
			return rs, c.updateStatus(ctx, d)
		}
		return rs, nil
	}
	if !create {
		return nil, nil
	}

	hash := TemplateHash(&d.Spec.Template, d.Status.CollisionCount)
	tmpl := d.Spec.Template.DeepCopy()
	tmpl.Labels = cloneWith(tmpl.Labels, HashLabel, hash)
	sel := d.Spec.Selector.DeepCopy()
	sel.MatchLabels = cloneWith(sel.MatchLabels, HashLabel, hash)
	zero := int32(0)
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{
			Name:            d.Name + "-" + hash,
			Namespace:       d.Namespace,
			Labels:          tmpl.Labels,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(d, kind())},
		},
		Spec: appsv1.ReplicaSetSpec{Replicas: &zero, MinReadySeconds: d.Spec.MinReadySeconds, Selector: sel, Template: *tmpl},
	}
	n := newRSReplicas(d, withNew(old, rs), rs)
	rs.Spec.Replicas = &n
	setNewRSAnnotations(d, rs, newRevision)
	setReplicasAnnotations(rs, desired(d), desired(d)+maxSurge(d))

	created, err := c.cfg.Client.AppsV1().ReplicaSets(d.Namespace).Create(ctx, rs, metav1.CreateOptions{})
	switch {
	case apierrors.IsAlreadyExists(err):
		found, getErr := c.cfg.Client.AppsV1().ReplicaSets(d.Namespace).Get(ctx, rs.Name, metav1.GetOptions{})
		if getErr != nil {
			return nil, getErr
		}
		if ref := metav1.GetControllerOf(found); ref != nil && ref.UID == d.UID && equalIgnoreHash(&d.Spec.Template, &found.Spec.Template) {
			// Ours, created by an earlier sync the cache has not shown yet.
			created, err = found, nil
			break
		}
		// A hash collision: bump collisionCount so the next hash differs.
		if d.Status.CollisionCount == nil {
			d.Status.CollisionCount = new(int32)
		}
		*d.Status.CollisionCount++
		if err := c.updateStatus(ctx, d); err != nil {
			return nil, err
		}
		c.cfg.Logger.Info("Found a hash collision for deployment", "deployment", d.Namespace+"/"+d.Name, "collisionCount", *d.Status.CollisionCount)
		return nil, fmt.Errorf("replica set %s: hash collision", rs.Name)
	case err != nil:
		msg := fmt.Sprintf("Failed to create new replica set %q: %v", rs.Name, err)
		c.cfg.Recorder.Event(d, corev1.EventTypeWarning, ReasonFailedRSCreate, msg)
		if hasProgressDeadline(d) {
			setCondition(&d.Status, newCondition(appsv1.DeploymentProgressing, corev1.ConditionFalse, ReasonFailedRSCreate, msg, c.cfg.Now()))
			_ = c.updateStatus(ctx, d)
		}
		return nil, fmt.Errorf("create replica set: %w", err)
	default:
		if n > 0 {
			c.cfg.Recorder.Eventf(d, corev1.EventTypeNormal, "ScalingReplicaSet", "Scaled up replica set %s from 0 to %d", created.Name, n)
		}
	}
	setDeploymentRevision(d, strconv.FormatInt(newRevision, 10))
	if hasProgressDeadline(d) {
		setCondition(&d.Status, newCondition(appsv1.DeploymentProgressing, corev1.ConditionTrue, ReasonNewRSCreated,
			fmt.Sprintf("Created new replica set %q", created.Name), c.cfg.Now()))
	}
	return created, c.updateStatus(ctx, d)
}

func cloneWith(m map[string]string, k, v string) map[string]string {
	out := make(map[string]string, len(m)+1)
	for a, b := range m {
		out[a] = b
	}
	out[k] = v
	return out
}

func setDeploymentRevision(d *appsv1.Deployment, rev string) bool {
	if rev == "" || d.Annotations[RevisionAnnotation] == rev {
		return false
	}
	if d.Annotations == nil {
		d.Annotations = map[string]string{}
	}
	d.Annotations[RevisionAnnotation] = rev
	return true
}

// updateStatus writes d's status (and, as upstream, its annotations) and
// refreshes d with the stored object.
func (c *Controller) updateStatus(ctx context.Context, d *appsv1.Deployment) error {
	got, err := c.cfg.Client.AppsV1().Deployments(d.Namespace).UpdateStatus(ctx, d, metav1.UpdateOptions{})
	if err != nil {
		return fmt.Errorf("update deployment status: %w", err)
	}
	*d = *got
	return nil
}

// newRSReplicas is the size the new ReplicaSet may grow to now.
func newRSReplicas(d *appsv1.Deployment, all []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet) int32 {
	if d.Spec.Strategy.Type == appsv1.RecreateDeploymentStrategyType {
		return desired(d)
	}
	maxTotal := desired(d) + maxSurge(d)
	current := sumSpec(all)
	if current >= maxTotal {
		return replicas(newRS)
	}
	up := min(maxTotal-current, desired(d)-replicas(newRS))
	return replicas(newRS) + max(up, 0)
}

// scaleRS sets rs to size n (and its replicas annotations); it reports
// whether the size changed and returns the stored ReplicaSet.
func (c *Controller) scaleRS(ctx context.Context, rs *appsv1.ReplicaSet, n int32, d *appsv1.Deployment) (bool, *appsv1.ReplicaSet, error) {
	from := replicas(rs)
	cp := rs.DeepCopy()
	annotationsChanged := setReplicasAnnotations(cp, desired(d), desired(d)+maxSurge(d))
	if from == n && !annotationsChanged {
		return false, rs, nil
	}
	cp.Spec.Replicas = &n
	got, err := c.cfg.Client.AppsV1().ReplicaSets(cp.Namespace).Update(ctx, cp, metav1.UpdateOptions{})
	if err != nil {
		return false, rs, fmt.Errorf("scale replica set %s: %w", rs.Name, err)
	}
	if from != n {
		op := "up"
		if n < from {
			op = "down"
		}
		c.cfg.Recorder.Eventf(d, corev1.EventTypeNormal, "ScalingReplicaSet", "Scaled %s replica set %s from %d to %d", op, rs.Name, from, n)
	}
	return from != n, got, nil
}

// isScalingEvent reports whether the Deployment's replicas changed since
// its active ReplicaSets were last annotated.
func (c *Controller) isScalingEvent(ctx context.Context, d *appsv1.Deployment, rsList []*appsv1.ReplicaSet) (bool, error) {
	newRS, old, err := c.replicaSets(ctx, d, rsList, false)
	if err != nil {
		return false, err
	}
	want := strconv.Itoa(int(desired(d)))
	for _, rs := range active(withNew(old, newRS)) {
		if v, ok := rs.Annotations[DesiredReplicasAnnotation]; ok && v != want {
			return true, nil
		}
	}
	return false, nil
}

// syncScale handles a paused Deployment or a change of replicas: it
// scales the ReplicaSets without rolling and writes the status.
func (c *Controller) syncScale(ctx context.Context, d *appsv1.Deployment, rsList []*appsv1.ReplicaSet) error {
	newRS, old, err := c.replicaSets(ctx, d, rsList, false)
	if err != nil {
		return err
	}
	if err := c.scale(ctx, d, newRS, old); err != nil {
		return err
	}
	if d.Spec.Paused {
		if err := c.cleanup(ctx, old, d); err != nil {
			return err
		}
	}
	// Re-read the ReplicaSets: scaling changed them.
	all := withNew(old, newRS)
	for i, rs := range all {
		if fresh, err := c.rsLister.ReplicaSets(rs.Namespace).Get(rs.Name); err == nil && fresh.UID == rs.UID {
			all[i] = fresh
		}
	}
	if newRS != nil {
		newRS = all[len(all)-1]
	}
	return c.syncStatus(ctx, all, newRS, d)
}

// scale distributes the Deployment's replicas over its ReplicaSets: all
// to the only active one, old ones to zero once the new one is
// saturated, otherwise proportionally to their sizes (the largest takes
// the rounding leftover).
func (c *Controller) scale(ctx context.Context, d *appsv1.Deployment, newRS *appsv1.ReplicaSet, old []*appsv1.ReplicaSet) error {
	if one := activeOrLatest(newRS, old); one != nil {
		if replicas(one) == desired(d) {
			return nil
		}
		_, _, err := c.scaleRS(ctx, one, desired(d), d)
		return err
	}
	if isSaturated(d, newRS) {
		for _, rs := range active(old) {
			if _, _, err := c.scaleRS(ctx, rs, 0, d); err != nil {
				return err
			}
		}
		return nil
	}
	if d.Spec.Strategy.Type != appsv1.RollingUpdateDeploymentStrategyType {
		return nil
	}
	all := active(withNew(old, newRS))
	allowed := desired(d)
	if allowed > 0 {
		allowed += maxSurge(d)
	}
	current := sumSpec(all)
	toAdd := allowed - current
	if toAdd == 0 || current == 0 {
		return nil
	}
	newerFirst := toAdd > 0
	sort.SliceStable(all, func(i, j int) bool {
		a, b := all[i], all[j]
		if replicas(a) != replicas(b) {
			return replicas(a) > replicas(b)
		}
		if newerFirst {
			return b.CreationTimestamp.Before(&a.CreationTimestamp)
		}
		return a.CreationTimestamp.Before(&b.CreationTimestamp)
	})
	sizes := make([]int32, len(all))
	var added int32
	for i, rs := range all {
		p := replicas(rs) * toAdd / current
		sizes[i] = replicas(rs) + p
		added += p
	}
	sizes[0] = max(sizes[0]+toAdd-added, 0)
	for i, rs := range all {
		if _, _, err := c.scaleRS(ctx, rs, sizes[i], d); err != nil {
			return err
		}
	}
	return nil
}

// activeOrLatest returns the only active ReplicaSet, or the newest one
// when none is active, or nil when several are active.
func activeOrLatest(newRS *appsv1.ReplicaSet, old []*appsv1.ReplicaSet) *appsv1.ReplicaSet {
	all := withNew(old, newRS)
	if len(all) == 0 {
		return nil
	}
	act := active(all)
	switch len(act) {
	case 0:
		if newRS != nil {
			return newRS
		}
		byCreation(all)
		return all[len(all)-1]
	case 1:
		return act[0]
	}
	return nil
}

func isSaturated(d *appsv1.Deployment, rs *appsv1.ReplicaSet) bool {
	if rs == nil {
		return false
	}
	want := strconv.Itoa(int(desired(d)))
	return replicas(rs) == desired(d) && rs.Annotations[DesiredReplicasAnnotation] == want && rs.Status.AvailableReplicas == desired(d)
}

// cleanup deletes the oldest revisions of idle old ReplicaSets beyond
// revisionHistoryLimit.
func (c *Controller) cleanup(ctx context.Context, old []*appsv1.ReplicaSet, d *appsv1.Deployment) error {
	if d.Spec.RevisionHistoryLimit == nil {
		return nil
	}
	var alive []*appsv1.ReplicaSet
	for _, rs := range old {
		if rs.DeletionTimestamp == nil {
			alive = append(alive, rs)
		}
	}
	diff := len(alive) - int(*d.Spec.RevisionHistoryLimit)
	if diff <= 0 {
		return nil
	}
	sort.SliceStable(alive, func(i, j int) bool {
		if ri, rj := revision(alive[i]), revision(alive[j]); ri != rj {
			return ri < rj
		}
		return alive[i].CreationTimestamp.Before(&alive[j].CreationTimestamp)
	})
	for _, rs := range alive[:diff] {
		if rs.Status.Replicas != 0 || replicas(rs) != 0 || rs.Generation > rs.Status.ObservedGeneration {
			continue
		}
		err := c.cfg.Client.AppsV1().ReplicaSets(rs.Namespace).Delete(ctx, rs.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &rs.UID}})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete old replica set %s: %w", rs.Name, err)
		}
	}
	return nil
}

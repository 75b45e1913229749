package daemonset

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"maps"
	"slices"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/rand"

	"github.com/svcnet/svcnet/internal/controller/claim"
	"github.com/svcnet/svcnet/internal/controller/keyqueue"
)

// patchData is a revision's content: the strategic merge patch that puts
// ds's template back, byte for byte what kubectl rollout undo compares
// and applies.
func patchData(ds *appsv1.DaemonSet) ([]byte, error) {
	raw, err := json.Marshal(ds.Spec.Template)
	if err != nil {
		return nil, err
	}
	var tmpl map[string]any
	if err := json.Unmarshal(raw, &tmpl); err != nil {
		return nil, err
	}
	tmpl["$patch"] = "replace"
	return json.Marshal(map[string]any{"spec": map[string]any{"template": tmpl}})
}

// templateHash is the FNV-32a hash of ds's template and collisionCount,
// rendered with rand.SafeEncodeString: the controller-revision-hash.
func templateHash(ds *appsv1.DaemonSet) (string, error) {
	raw, err := json.Marshal(ds.Spec.Template)
	if err != nil {
		return "", err
	}
	h := fnv.New32a()
	h.Write(raw)
	if cc := ds.Status.CollisionCount; cc != nil {
		var b [4]byte
		binary.LittleEndian.PutUint32(b[:], uint32(*cc))
		h.Write(b[:])
	}
	return rand.SafeEncodeString(strconv.FormatUint(uint64(h.Sum32()), 10)), nil
}

// history claims ds's ControllerRevisions and returns the one of its
// current template (created, or renumbered as the newest, when needed)
// and the others.
func (c *Controller) history(ctx context.Context, ds *appsv1.DaemonSet, sel labels.Selector) (*appsv1.ControllerRevision, []*appsv1.ControllerRevision, error) {
	all, err := c.revLister.ControllerRevisions(ds.Namespace).List(labels.Everything())
	if err != nil {
		return nil, nil, err
	}
	slices.SortFunc(all, func(a, b *appsv1.ControllerRevision) int { return cmp.Compare(a.Name, b.Name) })
	cl := &claim.Claimer[*appsv1.ControllerRevision]{
		Owner: ds, Kind: kind(), Selector: sel,
		Patch: func(ctx context.Context, name string, data []byte) error {
			_, err := c.cfg.Client.AppsV1().ControllerRevisions(ds.Namespace).Patch(ctx, name, types.StrategicMergePatchType, data, metav1.PatchOptions{})
			return err
		},
		Recheck: c.recheck(ds),
	}
	revs, err := cl.Claim(ctx, all)
	if err != nil {
		return nil, nil, err
	}
	data, err := patchData(ds)
	if err != nil {
		return nil, nil, fmt.Errorf("revision data: %w", err)
	}
	var cur, old []*appsv1.ControllerRevision
	for _, r := range revs {
		if _, ok := r.Labels[RevisionHashLabel]; !ok {
			// Label revisions made by others with their name, which is
			// unique, rather than a hash that could collide.
			r = r.DeepCopy()
			if r.Labels == nil {
				r.Labels = map[string]string{}
			}
			r.Labels[RevisionHashLabel] = r.Name
			if r, err = c.cfg.Client.AppsV1().ControllerRevisions(ds.Namespace).Update(ctx, r, metav1.UpdateOptions{}); err != nil {
				return nil, nil, fmt.Errorf("label revision: %w", err)
			}
		}
		if bytes.Equal(r.Data.Raw, data) {
			cur = append(cur, r)
		} else {
			old = append(old, r)
		}
	}
	next := int64(1)
	for _, r := range old {
		next = max(next, r.Revision+1)
	}
	if len(cur) == 0 {
		r, err := c.snapshot(ctx, ds, data, next)
		return r, old, err
	}
	if len(cur) > 1 {
		return nil, nil, c.dedup(ctx, ds, sel, cur)
	}
	if r := cur[0]; r.Revision < next {
		// Back to an older template (rollout undo): it becomes the newest.
		r = r.DeepCopy()
		r.Revision = next
		if _, err := c.cfg.Client.AppsV1().ControllerRevisions(ds.Namespace).Update(ctx, r, metav1.UpdateOptions{}); err != nil {
			return nil, nil, fmt.Errorf("renumber revision: %w", err)
		}
		return r, old, nil
	}
	return cur[0], old, nil
}

// snapshot creates the revision of ds's template. A name taken by another
// template is a hash collision: collisionCount goes up and the sync is
// retried with the next hash.
func (c *Controller) snapshot(ctx context.Context, ds *appsv1.DaemonSet, data []byte, number int64) (*appsv1.ControllerRevision, error) {
	hash, err := templateHash(ds)
	if err != nil {
		return nil, err
	}
	rev := &appsv1.ControllerRevision{
		ObjectMeta: metav1.ObjectMeta{
			Name:            ds.Name + "-" + hash,
			Namespace:       ds.Namespace,
			Labels:          maps.Clone(ds.Spec.Template.Labels),
			Annotations:     maps.Clone(ds.Annotations),
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(ds, kind())},
		},
		Data:     runtime.RawExtension{Raw: data},
		Revision: number,
	}
	if rev.Labels == nil {
		rev.Labels = map[string]string{}
	}
	rev.Labels[RevisionHashLabel] = hash
	revs := c.cfg.Client.AppsV1().ControllerRevisions(ds.Namespace)
	created, err := revs.Create(ctx, rev, metav1.CreateOptions{})
	if err == nil {
		return created, nil
	}
	if !apierrors.IsAlreadyExists(err) {
		return nil, fmt.Errorf("create revision: %w", err)
	}
	existing, getErr := revs.Get(ctx, rev.Name, metav1.GetOptions{})
	if getErr != nil {
		return nil, fmt.Errorf("get revision: %w", getErr)
	}
	if ref := metav1.GetControllerOfNoCopy(existing); ref != nil && ref.UID == ds.UID && bytes.Equal(existing.Data.Raw, data) {
		return existing, nil
	}
	fresh, getErr := c.cfg.Client.AppsV1().DaemonSets(ds.Namespace).Get(ctx, ds.Name, metav1.GetOptions{})
	if getErr != nil {
		return nil, fmt.Errorf("get daemonset: %w", getErr)
	}
	if !apiequality.Semantic.DeepEqual(fresh.Status.CollisionCount, ds.Status.CollisionCount) {
		return nil, fmt.Errorf("revision %s: stale collisionCount: %w", rev.Name, keyqueue.ErrRetry)
	}
	if fresh.Status.CollisionCount == nil {
		fresh.Status.CollisionCount = new(int32)
	}
	*fresh.Status.CollisionCount++
	if _, err := c.cfg.Client.AppsV1().DaemonSets(ds.Namespace).UpdateStatus(ctx, fresh, metav1.UpdateOptions{}); err != nil {
		return nil, fmt.Errorf("raise collisionCount: %w", err)
	}
	c.cfg.Logger.Info("Found a revision hash collision", "daemonset", ds.Namespace+"/"+ds.Name,
		"revision", rev.Name, "collisionCount", *fresh.Status.CollisionCount)
	return nil, fmt.Errorf("revision %s: hash collision: %w", rev.Name, keyqueue.ErrRetry)
}

// dedup keeps the newest of several revisions of the current template:
// pods labelled with another's hash are relabelled, the others deleted.
// The sync is then retried on the informers' new state.
func (c *Controller) dedup(ctx context.Context, ds *appsv1.DaemonSet, sel labels.Selector, cur []*appsv1.ControllerRevision) error {
	keep := cur[0]
	for _, r := range cur[1:] {
		if r.Revision >= keep.Revision {
			keep = r
		}
	}
	hash := keep.Labels[RevisionHashLabel]
	pods, err := c.podLister.Pods(ds.Namespace).List(sel)
	if err != nil {
		return err
	}
	patch := fmt.Appendf(nil, `{"metadata":{"labels":{%q:%q}}}`, RevisionHashLabel, hash)
	for _, p := range pods {
		if ref := metav1.GetControllerOfNoCopy(p); ref == nil || ref.UID != ds.UID || p.Labels[RevisionHashLabel] == hash {
			continue
		}
		if _, err := c.cfg.Client.CoreV1().Pods(ds.Namespace).Patch(ctx, p.Name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("relabel pod %s: %w", p.Name, err)
		}
	}
	for _, r := range cur {
		if r.Name == keep.Name {
			continue
		}
		if err := c.cfg.Client.AppsV1().ControllerRevisions(ds.Namespace).Delete(ctx, r.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete duplicate revision %s: %w", r.Name, err)
		}
	}
	return fmt.Errorf("deduplicated revisions of the current template: %w", keyqueue.ErrRetry)
}

// cleanupHistory deletes the oldest of old beyond revisionHistoryLimit,
// sparing those a live pod still carries the hash of.
func (c *Controller) cleanupHistory(ctx context.Context, ds *appsv1.DaemonSet, old []*appsv1.ControllerRevision, pods []*corev1.Pod) error {
	keep := 10
	if l := ds.Spec.RevisionHistoryLimit; l != nil {
		keep = int(*l)
	}
	toKill := len(old) - keep
	if toKill <= 0 {
		return nil
	}
	live := map[string]bool{}
	for _, p := range pods {
		if h := p.Labels[RevisionHashLabel]; h != "" {
			live[h] = true
		}
	}
	old = slices.Clone(old)
	slices.SortStableFunc(old, func(a, b *appsv1.ControllerRevision) int { return cmp.Compare(a.Revision, b.Revision) })
	for _, r := range old {
		if toKill <= 0 {
			break
		}
		if live[r.Labels[RevisionHashLabel]] {
			continue
		}
		if err := c.cfg.Client.AppsV1().ControllerRevisions(ds.Namespace).Delete(ctx, r.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete old revision %s: %w", r.Name, err)
		}
		toKill--
	}
	return nil
}

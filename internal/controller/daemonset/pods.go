package daemonset

import (
	"context"
	"errors"
	"fmt"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/tools/cache"
)

// burstReplicas caps the pods created or deleted in one sync, as
// upstream, so a cluster of many nodes does not flood the API server.
const burstReplicas = 250

// podPrefix is the generateName of ds's pods: "name-", or the name alone
// when the dash would make it too long.
func podPrefix(name string) string {
	prefix := name + "-"
	if len(validation.IsDNS1123Subdomain(prefix+"xxxxx")) != 0 {
		return name
	}
	return prefix
}

// syncNodes deletes del and starts a pod on each node of create, having
// set the expectations their informer events will meet.
func (c *Controller) syncNodes(ctx context.Context, st *state, del []deletion, create []string) error {
	if len(del) == 0 && len(create) == 0 {
		return nil
	}
	create = create[:min(len(create), burstReplicas)]
	del = del[:min(len(del), burstReplicas)]
	keys := make([]string, len(del))
	for i, d := range del {
		keys[i], _ = cache.MetaNamespaceKeyFunc(d.pod)
	}
	c.expectations.Expect(st.key, len(create), keys)
	return errors.Join(c.createPods(ctx, st, create), c.deletePods(ctx, st, del, keys))
}

// createPods creates the pods of nodes in batches of 1, 2, 4, ...
// (upstream's slow start), stopping after the first batch with an error
// so a failing quota or webhook costs one request, not one per node.
func (c *Controller) createPods(ctx context.Context, st *state, nodes []string) error {
	ds := st.ds
	tmpl := podTemplate(ds, st.hash)
	ref := metav1.NewControllerRef(ds, kind())
	done := 0
	for batch := 1; done < len(nodes); batch *= 2 {
		size := min(batch, len(nodes)-done)
		var (
			wg   sync.WaitGroup
			mu   sync.Mutex
			errs []error
		)
		for _, node := range nodes[done : done+size] {
			wg.Add(1)
			go func() {
				defer wg.Done()
				t := tmpl.DeepCopy()
				pod := &corev1.Pod{
					ObjectMeta: metav1.ObjectMeta{
						GenerateName:    podPrefix(ds.Name),
						Namespace:       ds.Namespace,
						Labels:          t.Labels,
						Annotations:     t.Annotations,
						Finalizers:      t.Finalizers,
						OwnerReferences: []metav1.OwnerReference{*ref},
					},
					Spec: t.Spec,
				}
				pod.Spec.Affinity = nodeNameAffinity(pod.Spec.Affinity, node)
				got, err := c.cfg.Client.CoreV1().Pods(ds.Namespace).Create(ctx, pod, metav1.CreateOptions{})
				if err != nil {
					c.expectations.CreationObserved(st.key)
					if apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
						return
					}
					c.cfg.Recorder.Eventf(ds, corev1.EventTypeWarning, "FailedCreate", "Error creating: %v", err)
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					return
				}
				c.cfg.Recorder.Eventf(ds, corev1.EventTypeNormal, "SuccessfulCreate", "Created pod: %v", got.Name)
			}()
		}
		wg.Wait()
		done += size
		if len(errs) > 0 {
			for ; done < len(nodes); done++ {
				c.expectations.CreationObserved(st.key)
			}
			return fmt.Errorf("create pods: %w", errors.Join(errs...))
		}
	}
	return nil
}

// deletePods deletes del in parallel; keys are their namespace/name.
func (c *Controller) deletePods(ctx context.Context, st *state, del []deletion, keys []string) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for i, d := range del {
		wg.Add(1)
		go func() {
			defer wg.Done()
			opts := metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &d.pod.UID}}
			if d.force {
				zero := int64(0)
				opts.GracePeriodSeconds = &zero
			}
			err := c.cfg.Client.CoreV1().Pods(d.pod.Namespace).Delete(ctx, d.pod.Name, opts)
			if err != nil {
				c.expectations.DeletionObserved(st.key, keys[i])
				if apierrors.IsNotFound(err) {
					return
				}
				c.cfg.Recorder.Eventf(st.ds, corev1.EventTypeWarning, "FailedDelete", "Error deleting: %v", err)
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
				return
			}
			c.cfg.Recorder.Eventf(st.ds, corev1.EventTypeNormal, "SuccessfulDelete", "Deleted pod: %v", d.pod.Name)
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		return fmt.Errorf("delete pods: %w", errors.Join(errs...))
	}
	return nil
}

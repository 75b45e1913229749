package noderestriction

import (
	"context"
	"slices"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/utils/ptr"

	"github.com/svcnet/svcnet/internal/registry"
)

// mirrorPodAnnotation marks a kubelet's mirror of a static pod, the only
// pods upstream lets a node create.
const mirrorPodAnnotation = "kubernetes.io/config.mirror"

// admitPod refuses every pod a node creates (svcnet has no static, so no
// mirror, pods) and lets it delete only pods bound to it.
func (p *plugin) admitPod(ctx context.Context, node string, a *registry.AdmissionAttributes) error {
	switch a.Operation {
	case registry.Create:
		pod, ok := a.Object.(*corev1.Pod)
		if !ok {
			return unexpectedType(a, a.Object)
		}
		if _, mirror := pod.Annotations[mirrorPodAnnotation]; !mirror {
			return forbidden(a, "pod does not have %q annotation, node %q can only create mirror pods", mirrorPodAnnotation, node)
		}
		return forbidden(a, "node %q can not create mirror pods: svcnet runs no static pods", node)
	case registry.Delete:
		pod, err := p.storedPod(ctx, a)
		if err != nil {
			return err
		}
		if pod.Spec.NodeName != node {
			return forbidden(a, "node %q can only delete pods with spec.nodeName set to itself", node)
		}
		return nil
	}
	return forbidden(a, "unexpected operation %q, node %q can only create and delete mirror pods", a.Operation, node)
}

// admitPodStatus lets a node write the status of the pods bound to it,
// without changing their labels or resource claim statuses.
func admitPodStatus(node string, a *registry.AdmissionAttributes) error {
	if a.Operation != registry.Update {
		return forbidden(a, "unexpected operation %q", a.Operation)
	}
	old, ok := a.OldObject.(*corev1.Pod)
	if !ok {
		return unexpectedType(a, a.OldObject)
	}
	if old.Spec.NodeName != node {
		return forbidden(a, "node %q can only update pod status for pods with spec.nodeName set to itself", node)
	}
	pod, ok := a.Object.(*corev1.Pod)
	if !ok {
		return unexpectedType(a, a.Object)
	}
	if !labels.Equals(old.Labels, pod.Labels) {
		return forbidden(a, "node %q cannot update labels through pod status", node)
	}
	if !claimStatusesEqual(old.Status.ResourceClaimStatuses, pod.Status.ResourceClaimStatuses) {
		return forbidden(a, "node %q cannot update resource claim statuses", node)
	}
	return nil
}

// claimStatusesEqual says whether two pods' resource claim statuses,
// which the resource claim controller and not the node writes, name the
// same claims.
func claimStatusesEqual(a, b []corev1.PodResourceClaimStatus) bool {
	return slices.EqualFunc(a, b, func(x, y corev1.PodResourceClaimStatus) bool {
		return x.Name == y.Name && ptr.Equal(x.ResourceClaimName, y.ResourceClaimName)
	})
}

// admitEviction lets a node evict only the pods bound to it.
func (p *plugin) admitEviction(ctx context.Context, node string, a *registry.AdmissionAttributes) error {
	if a.Operation != registry.Create {
		return forbidden(a, "unexpected operation %s", a.Operation)
	}
	pod, err := p.storedPod(ctx, a)
	if err != nil {
		return err
	}
	if pod.Spec.NodeName != node {
		return forbidden(a, "node %s can only evict pods with spec.nodeName set to itself", node)
	}
	return nil
}

// storedPod is the pod a delete or an eviction acts on: the stored object
// admission was given, else the pod read by name.
func (p *plugin) storedPod(ctx context.Context, a *registry.AdmissionAttributes) (*corev1.Pod, error) {
	if pod, ok := a.OldObject.(*corev1.Pod); ok {
		return pod, nil
	}
	ns, name := stored(a)
	if name == "" {
		return nil, forbidden(a, "could not determine pod from request data")
	}
	return p.getPod(ctx, a, ns, name)
}

// getPod reads a pod, passing on NotFound and refusing on other errors.
func (p *plugin) getPod(ctx context.Context, a *registry.AdmissionAttributes, ns, name string) (*corev1.Pod, error) {
	if p.cfg.GetPod == nil {
		return nil, forbidden(a, "cannot read pods to check the request")
	}
	pod, err := p.cfg.GetPod(ctx, ns, name)
	if apierrors.IsNotFound(err) {
		return nil, err
	}
	if err != nil {
		return nil, apierrors.NewForbidden(a.Resource.GroupResource(), objectName(a), err)
	}
	return pod, nil
}

// admitServiceAccount lets a node request only tokens bound to a pod that
// is bound to it (by name and UID); other ServiceAccount writes pass (the
// Node authorizer allows none).
func (p *plugin) admitServiceAccount(ctx context.Context, node string, a *registry.AdmissionAttributes) error {
	if a.Operation != registry.Create || a.Subresource != "token" {
		return nil
	}
	tr, ok := a.Object.(*authenticationv1.TokenRequest)
	if !ok {
		return unexpectedType(a, a.Object)
	}
	ref := tr.Spec.BoundObjectRef
	if ref == nil || ref.APIVersion != "v1" || ref.Kind != "Pod" || ref.Name == "" {
		return forbidden(a, "node requested token not bound to a pod")
	}
	if ref.UID == "" {
		return forbidden(a, "node requested token with a pod binding without a uid")
	}
	ns, _ := stored(a)
	pod, err := p.getPod(ctx, a, ns, ref.Name)
	if err != nil {
		return err
	}
	if ref.UID != pod.UID {
		return forbidden(a, "the UID in the bound object reference (%s) does not match the UID in record. "+
			"The object might have been deleted and then recreated", ref.UID)
	}
	if pod.Spec.NodeName != node {
		return forbidden(a, "node requested token bound to a pod scheduled on a different node")
	}
	return nil
}

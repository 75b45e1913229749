package pod

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

var bindingResource = schema.GroupResource{Resource: "pods/binding"}

// ValidateBinding validates a Binding: its target must be a Node with a
// name.
func ValidateBinding(b *corev1.Binding) field.ErrorList {
	var allErrs field.ErrorList
	if b.Target.Kind != "" && b.Target.Kind != "Node" {
		allErrs = append(allErrs, field.NotSupported(field.NewPath("target", "kind"), b.Target.Kind, []string{"Node", "<empty>"}))
	}
	if b.Target.Name == "" {
		allErrs = append(allErrs, field.Required(field.NewPath("target", "name"), ""))
	}
	return allErrs
}

// Bind assigns pod to the node named by binding, as a write to
// pods/binding does: it sets spec.nodeName, merges the binding's
// annotations and sets the PodScheduled condition. It fails with 422 for an
// invalid binding and 409 when the pod is being deleted, is already
// assigned, is still gated, or does not match the binding's uid or
// resourceVersion preconditions. pod is modified only on success.
func Bind(pod *corev1.Pod, binding *corev1.Binding) error {
	if errs := ValidateBinding(binding); len(errs) > 0 {
		return apierrors.NewInvalid(schema.GroupKind{Kind: "Binding"}, binding.Name, errs)
	}
	conflict := func(format string, args ...any) error {
		return apierrors.NewConflict(bindingResource, pod.Name, fmt.Errorf(format, args...))
	}
	switch {
	case binding.UID != "" && binding.UID != pod.UID:
		return conflict("the UID in the precondition (%s) does not match the UID in record (%s). The object might have been deleted and then recreated",
			binding.UID, pod.UID)
	case binding.ResourceVersion != "" && binding.ResourceVersion != pod.ResourceVersion:
		return conflict("the ResourceVersion in the precondition (%s) does not match the ResourceVersion in record (%s). The object might have been modified",
			binding.ResourceVersion, pod.ResourceVersion)
	case pod.DeletionTimestamp != nil:
		return conflict("pod %s is being deleted, cannot be assigned to a host", pod.Name)
	case pod.Spec.NodeName != "":
		return conflict("pod %v is already assigned to node %q", pod.Name, pod.Spec.NodeName)
	case len(pod.Spec.SchedulingGates) != 0:
		return conflict("pod %v has non-empty .spec.schedulingGates", pod.Name)
	}
	pod.Spec.NodeName = binding.Target.Name
	if len(binding.Annotations) > 0 && pod.Annotations == nil {
		pod.Annotations = map[string]string{}
	}
	for k, v := range binding.Annotations {
		pod.Annotations[k] = v
	}
	setCondition(&pod.Status, corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionTrue})
	return nil
}

// setCondition replaces or adds the condition of c's type, keeping the
// transition time when the status does not change.
func setCondition(status *corev1.PodStatus, c corev1.PodCondition) {
	c.LastTransitionTime = metav1.Now()
	for i := range status.Conditions {
		old := &status.Conditions[i]
		if old.Type != c.Type {
			continue
		}
		if old.Status == c.Status {
			c.LastTransitionTime = old.LastTransitionTime
		}
		*old = c
		return
	}
	status.Conditions = append(status.Conditions, c)
}

// GracefulDeletion decides how a pod is deleted, as upstream's
// CheckGracefulDelete: the grace period is the one in opts, else the pod's
// terminationGracePeriodSeconds; a pod not yet scheduled or already
// terminated is deleted at once (0); a negative period becomes 1. It
// writes the period into opts.GracePeriodSeconds and reports whether the
// deletion is graceful (always true when opts is non-nil: a zero period
// then means immediate deletion).
func GracefulDeletion(pod *corev1.Pod, opts *metav1.DeleteOptions) bool {
	if opts == nil {
		return false
	}
	period := int64(0)
	if opts.GracePeriodSeconds != nil {
		period = *opts.GracePeriodSeconds
	} else if pod.Spec.TerminationGracePeriodSeconds != nil {
		period = *pod.Spec.TerminationGracePeriodSeconds
	}
	if pod.Spec.NodeName == "" {
		period = 0
	}
	if pod.Status.Phase == corev1.PodFailed || pod.Status.Phase == corev1.PodSucceeded {
		period = 0
	}
	if period < 0 {
		period = 1
	}
	opts.GracePeriodSeconds = &period
	return true
}

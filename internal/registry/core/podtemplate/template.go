package podtemplate

import (
	corev1 "k8s.io/api/core/v1"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// ValidatePodTemplateSpec validates the labels, annotations and spec of a
// pod template. As upstream, label errors are reported at <path>.labels.
func ValidatePodTemplateSpec(t *corev1.PodTemplateSpec, fldPath *field.Path, opts Options) field.ErrorList {
	allErrs := metav1validation.ValidateLabels(t.Labels, fldPath.Child("labels"))
	allErrs = append(allErrs, apimachineryvalidation.ValidateAnnotations(t.Annotations, fldPath.Child("annotations"))...)
	allErrs = append(allErrs, ValidatePodSpecWithOptions(&t.Spec, fldPath.Child("spec"), opts)...)
	if len(t.Spec.EphemeralContainers) > 0 {
		allErrs = append(allErrs, field.Forbidden(fldPath.Child("spec", "ephemeralContainers"), "ephemeral containers not allowed in pod template"))
	}
	return allErrs
}

// ValidateSelector validates the label selector of a workload: it is
// required, well formed and not empty. emptyMsg is the kind-specific message
// upstream gives an empty selector.
func ValidateSelector(sel *metav1.LabelSelector, emptyMsg string, fldPath *field.Path) field.ErrorList {
	if sel == nil {
		return field.ErrorList{field.Required(fldPath, "")}
	}
	allErrs := metav1validation.ValidateLabelSelector(sel, metav1validation.LabelSelectorValidationOptions{}, fldPath)
	if len(sel.MatchLabels)+len(sel.MatchExpressions) == 0 {
		allErrs = append(allErrs, field.Invalid(fldPath, sel, emptyMsg))
	}
	return allErrs
}

// ValidateTemplateMatchesSelector reports a template whose labels the
// selector does not select.
func ValidateTemplateMatchesSelector(t *corev1.PodTemplateSpec, selector labels.Selector, fldPath *field.Path) field.ErrorList {
	if selector.Empty() || selector.Matches(labels.Set(t.Labels)) {
		return nil
	}
	return field.ErrorList{field.Invalid(fldPath.Child("metadata", "labels"), t.Labels, "`selector` does not match template `labels`")}
}

// ValidateReplicaSetTemplate validates the template of a ReplicaSet or
// Deployment (upstream's ValidatePodTemplateSpecForReplicaSet): it must
// match the selector, be a valid template, restart Always and set no
// activeDeadlineSeconds.
func ValidateReplicaSetTemplate(t *corev1.PodTemplateSpec, selector labels.Selector, fldPath *field.Path) field.ErrorList {
	allErrs := ValidateTemplateMatchesSelector(t, selector, fldPath)
	allErrs = append(allErrs, ValidatePodTemplateSpec(t, fldPath, Options{})...)
	if t.Spec.RestartPolicy != corev1.RestartPolicyAlways {
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("spec", "restartPolicy"), t.Spec.RestartPolicy,
			[]corev1.RestartPolicy{corev1.RestartPolicyAlways}))
	}
	if t.Spec.ActiveDeadlineSeconds != nil {
		allErrs = append(allErrs, field.Forbidden(fldPath.Child("spec", "activeDeadlineSeconds"), "activeDeadlineSeconds in ReplicaSet is not Supported"))
	}
	return allErrs
}

package daemonset

import (
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/svcnet/svcnet/internal/registry/apps/deployment"
	"github.com/svcnet/svcnet/internal/registry/core/podtemplate"
)

// ValidateDaemonSet validates a new daemon set; its name is a DNS
// subdomain.
func ValidateDaemonSet(ds *appsv1.DaemonSet) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMeta(&ds.ObjectMeta, true, apimachineryvalidation.NameIsDNSSubdomain, field.NewPath("metadata"))
	return append(allErrs, validateSpec(ds, field.NewPath("spec"))...)
}

// ValidateDaemonSetUpdate validates an update: the selector is immutable
// and templateGeneration moves with the template (which PrepareForUpdate
// ensures).
func ValidateDaemonSetUpdate(ds, old *appsv1.DaemonSet) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMetaUpdate(&ds.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	allErrs = append(allErrs, validateSpecUpdate(ds, old, field.NewPath("spec"))...)
	return append(allErrs, validateSpec(ds, field.NewPath("spec"))...)
}

func validateSpecUpdate(ds, old *appsv1.DaemonSet, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	gen, err1 := TemplateGeneration(ds)
	oldGen, err2 := TemplateGeneration(old)
	if err1 == nil && err2 == nil {
		p := fldPath.Child("templateGeneration")
		changed := !apiequality.Semantic.DeepEqual(ds.Spec.Template, old.Spec.Template)
		switch {
		case gen < oldGen:
			allErrs = append(allErrs, field.Invalid(p, gen, "must not be decremented"))
		case gen == oldGen && changed:
			allErrs = append(allErrs, field.Invalid(p, gen, "must be incremented upon template update"))
		case gen > oldGen && !changed:
			allErrs = append(allErrs, field.Invalid(p, gen, "must not be incremented without template update"))
		}
	}
	return append(allErrs, apimachineryvalidation.ValidateImmutableField(ds.Spec.Selector, old.Spec.Selector, fldPath.Child("selector"))...)
}

// validateSpec validates a (defaulted) daemon set spec with upstream's
// checks, in upstream's order.
func validateSpec(ds *appsv1.DaemonSet, fldPath *field.Path) field.ErrorList {
	spec := &ds.Spec
	allErrs := metav1validation.ValidateLabelSelector(spec.Selector, metav1validation.LabelSelectorValidationOptions{}, fldPath.Child("selector"))
	// A nil selector selects nothing, so it matches no template either.
	if selector, err := metav1.LabelSelectorAsSelector(spec.Selector); err == nil && !selector.Matches(labels.Set(spec.Template.Labels)) {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("template", "metadata", "labels"), spec.Template.Labels,
			"`selector` does not match template `labels`"))
	}
	if spec.Selector != nil && len(spec.Selector.MatchLabels)+len(spec.Selector.MatchExpressions) == 0 {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("selector"), spec.Selector, "empty selector is invalid for daemonset"))
	}
	tp := fldPath.Child("template")
	allErrs = append(allErrs, podtemplate.ValidatePodTemplateSpec(&spec.Template, tp, podtemplate.Options{})...)
	if spec.Template.Spec.RestartPolicy != corev1.RestartPolicyAlways {
		allErrs = append(allErrs, field.NotSupported(tp.Child("spec", "restartPolicy"), spec.Template.Spec.RestartPolicy,
			[]corev1.RestartPolicy{corev1.RestartPolicyAlways}))
	}
	if spec.Template.Spec.ActiveDeadlineSeconds != nil {
		allErrs = append(allErrs, field.Forbidden(tp.Child("spec", "activeDeadlineSeconds"), "activeDeadlineSeconds in DaemonSet is not Supported"))
	}
	allErrs = append(allErrs, apimachineryvalidation.ValidateNonnegativeField(int64(spec.MinReadySeconds), fldPath.Child("minReadySeconds"))...)
	if gen, err := TemplateGeneration(ds); err != nil {
		allErrs = append(allErrs, field.Invalid(field.NewPath("metadata", "annotations").Key(TemplateGenerationAnnotation),
			ds.Annotations[TemplateGenerationAnnotation], "must be an integer"))
	} else {
		allErrs = append(allErrs, apimachineryvalidation.ValidateNonnegativeField(gen, fldPath.Child("templateGeneration"))...)
	}
	allErrs = append(allErrs, validateUpdateStrategy(&spec.UpdateStrategy, fldPath.Child("updateStrategy"))...)
	if spec.RevisionHistoryLimit != nil {
		allErrs = append(allErrs, apimachineryvalidation.ValidateNonnegativeField(int64(*spec.RevisionHistoryLimit), fldPath.Child("revisionHistoryLimit"))...)
	}
	return allErrs
}

var strategyTypes = []appsv1.DaemonSetUpdateStrategyType{appsv1.RollingUpdateDaemonSetStrategyType, appsv1.OnDeleteDaemonSetStrategyType}

func validateUpdateStrategy(s *appsv1.DaemonSetUpdateStrategy, fldPath *field.Path) field.ErrorList {
	switch s.Type {
	case appsv1.OnDeleteDaemonSetStrategyType:
		return nil
	case appsv1.RollingUpdateDaemonSetStrategyType:
		if s.RollingUpdate == nil {
			return field.ErrorList{field.Required(fldPath.Child("rollingUpdate"), "")}
		}
		return validateRollingUpdate(s.RollingUpdate, fldPath.Child("rollingUpdate"))
	default:
		return field.ErrorList{field.NotSupported(fldPath, *s, strategyTypes)}
	}
}

// validateRollingUpdate requires both values to be non-negative integers
// or percentages up to 100%, exactly one of them non-zero.
func validateRollingUpdate(ru *appsv1.RollingUpdateDaemonSet, fldPath *field.Path) field.ErrorList {
	maxUnavailable, maxSurge := orZero(ru.MaxUnavailable), orZero(ru.MaxSurge)
	up, sp := fldPath.Child("maxUnavailable"), fldPath.Child("maxSurge")
	allErrs := deployment.ValidatePositiveIntOrPercent(maxUnavailable, up)
	allErrs = append(allErrs, deployment.ValidatePositiveIntOrPercent(maxSurge, sp)...)
	allErrs = append(allErrs, deployment.IsNotMoreThan100Percent(maxUnavailable, up)...)
	allErrs = append(allErrs, deployment.IsNotMoreThan100Percent(maxSurge, sp)...)
	hasUnavailable, hasSurge := intOrPercentValue(maxUnavailable) != 0, intOrPercentValue(maxSurge) != 0
	switch {
	case hasUnavailable && hasSurge:
		allErrs = append(allErrs, field.Invalid(sp, maxSurge, "may not be set when maxUnavailable is non-zero"))
	case !hasUnavailable && !hasSurge:
		allErrs = append(allErrs, field.Required(up, "cannot be 0 when maxSurge is 0"))
	}
	return allErrs
}

func orZero(v *intstr.IntOrString) intstr.IntOrString {
	if v == nil {
		return intstr.FromInt32(0)
	}
	return *v
}

// intOrPercentValue is the number of an integer or "N%" value; any other
// string counts as its integer value, as upstream's getIntOrPercentValue.
func intOrPercentValue(v intstr.IntOrString) int {
	if v.Type == intstr.String {
		if s, ok := strings.CutSuffix(v.StrVal, "%"); ok {
			if n, err := strconv.Atoi(s); err == nil {
				return n
			}
		}
	}
	return v.IntValue()
}

// ValidateDaemonSetStatusUpdate validates a write to daemonsets/status.
func ValidateDaemonSetStatusUpdate(ds, old *appsv1.DaemonSet) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMetaUpdate(&ds.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	fldPath := field.NewPath("status")
	st := &ds.Status
	for _, f := range []struct {
		name string
		v    int64
	}{
		{"currentNumberScheduled", int64(st.CurrentNumberScheduled)}, {"numberMisscheduled", int64(st.NumberMisscheduled)},
		{"desiredNumberScheduled", int64(st.DesiredNumberScheduled)}, {"numberReady", int64(st.NumberReady)},
		{"observedGeneration", st.ObservedGeneration}, {"updatedNumberScheduled", int64(st.UpdatedNumberScheduled)},
		{"numberAvailable", int64(st.NumberAvailable)}, {"numberUnavailable", int64(st.NumberUnavailable)},
	} {
		allErrs = append(allErrs, apimachineryvalidation.ValidateNonnegativeField(f.v, fldPath.Child(f.name))...)
	}
	if st.CollisionCount != nil {
		allErrs = append(allErrs, apimachineryvalidation.ValidateNonnegativeField(int64(*st.CollisionCount), fldPath.Child("collisionCount"))...)
	}
	if old.Status.CollisionCount != nil && (st.CollisionCount == nil || *st.CollisionCount < *old.Status.CollisionCount) {
		v := int32(0)
		if st.CollisionCount != nil {
			v = *st.CollisionCount
		}
		allErrs = append(allErrs, field.Invalid(fldPath.Child("collisionCount"), v, "cannot be decremented"))
	}
	return allErrs
}

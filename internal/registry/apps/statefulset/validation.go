package statefulset

import (
	"fmt"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/svcnet/svcnet/internal/registry/apps/deployment"
	"github.com/svcnet/svcnet/internal/registry/core/podtemplate"
)

const immutableSpecMsg = "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', " +
	"'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"

// ValidateStatefulSet validates a new stateful set; its name must be a DNS
// label since it prefixes pod hostnames.
func ValidateStatefulSet(s *appsv1.StatefulSet) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMeta(&s.ObjectMeta, true, apimachineryvalidation.NameIsDNSLabel, field.NewPath("metadata"))
	return append(allErrs, ValidateStatefulSetSpec(&s.Spec, field.NewPath("spec"))...)
}

// ValidateStatefulSetUpdate validates an update: only replicas, ordinals,
// template, updateStrategy, revisionHistoryLimit, the claim retention
// policy and minReadySeconds may change.
func ValidateStatefulSetUpdate(s, old *appsv1.StatefulSet) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMetaUpdate(&s.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	allErrs = append(allErrs, ValidateStatefulSetSpec(&s.Spec, field.NewPath("spec"))...)
	clone := s.Spec.DeepCopy()
	clone.Replicas = old.Spec.Replicas
	clone.Template = old.Spec.Template
	clone.UpdateStrategy = old.Spec.UpdateStrategy
	clone.MinReadySeconds = old.Spec.MinReadySeconds
	clone.Ordinals = old.Spec.Ordinals
	clone.RevisionHistoryLimit = old.Spec.RevisionHistoryLimit
	clone.PersistentVolumeClaimRetentionPolicy = old.Spec.PersistentVolumeClaimRetentionPolicy
	if !apiequality.Semantic.DeepEqual(*clone, old.Spec) {
		allErrs = append(allErrs, field.Forbidden(field.NewPath("spec"), immutableSpecMsg))
	}
	return allErrs
}

// ValidateStatefulSetSpec validates a (defaulted) stateful set spec. As
// upstream, the template's pod spec itself is not validated (its volume
// mounts may refer to claim templates); only its labels and annotations.
func ValidateStatefulSetSpec(spec *appsv1.StatefulSetSpec, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	switch spec.PodManagementPolicy {
	case "":
		allErrs = append(allErrs, field.Required(fldPath.Child("podManagementPolicy"), ""))
	case appsv1.OrderedReadyPodManagement, appsv1.ParallelPodManagement:
	default:
		allErrs = append(allErrs, field.Invalid(fldPath.Child("podManagementPolicy"), spec.PodManagementPolicy,
			fmt.Sprintf("must be '%s' or '%s'", appsv1.OrderedReadyPodManagement, appsv1.ParallelPodManagement)))
	}
	switch spec.UpdateStrategy.Type {
	case "":
		allErrs = append(allErrs, field.Required(fldPath.Child("updateStrategy"), ""))
	case appsv1.OnDeleteStatefulSetStrategyType:
		if spec.UpdateStrategy.RollingUpdate != nil {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("updateStrategy", "rollingUpdate"), spec.UpdateStrategy.RollingUpdate,
				fmt.Sprintf("only allowed for updateStrategy '%s'", appsv1.RollingUpdateStatefulSetStrategyType)))
		}
	case appsv1.RollingUpdateStatefulSetStrategyType:
		if ru := spec.UpdateStrategy.RollingUpdate; ru != nil {
			allErrs = append(allErrs, validateRollingUpdate(ru, fldPath.Child("updateStrategy", "rollingUpdate"))...)
		}
	default:
		allErrs = append(allErrs, field.Invalid(fldPath.Child("updateStrategy"), spec.UpdateStrategy,
			fmt.Sprintf("must be '%s' or '%s'", appsv1.RollingUpdateStatefulSetStrategyType, appsv1.OnDeleteStatefulSetStrategyType)))
	}
	if p := spec.PersistentVolumeClaimRetentionPolicy; p != nil {
		rp := fldPath.Child("persistentVolumeClaimRetentionPolicy")
		allErrs = append(allErrs, validateRetentionPolicyType(p.WhenDeleted, rp.Child("whenDeleted"))...)
		allErrs = append(allErrs, validateRetentionPolicyType(p.WhenScaled, rp.Child("whenScaled"))...)
	}
	allErrs = append(allErrs, apimachineryvalidation.ValidateNonnegativeField(int64(replicas(spec.Replicas)), fldPath.Child("replicas"))...)
	allErrs = append(allErrs, apimachineryvalidation.ValidateNonnegativeField(int64(spec.MinReadySeconds), fldPath.Child("minReadySeconds"))...)
	if spec.Ordinals != nil {
		allErrs = append(allErrs, apimachineryvalidation.ValidateNonnegativeField(int64(spec.Ordinals.Start), fldPath.Child("ordinals.start"))...)
	}
	allErrs = append(allErrs, podtemplate.ValidateSelector(spec.Selector, "empty selector is invalid for statefulset", fldPath.Child("selector"))...)
	selector, err := metav1.LabelSelectorAsSelector(spec.Selector)
	if err != nil {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("selector"), spec.Selector, ""))
	} else {
		tp := fldPath.Child("template")
		allErrs = append(allErrs, podtemplate.ValidateTemplateMatchesSelector(&spec.Template, selector, tp)...)
		allErrs = append(allErrs, metav1validation.ValidateLabels(spec.Template.Labels, tp.Child("labels"))...)
		allErrs = append(allErrs, apimachineryvalidation.ValidateAnnotations(spec.Template.Annotations, tp.Child("annotations"))...)
	}
	if spec.Template.Spec.RestartPolicy != corev1.RestartPolicyAlways {
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("template", "spec", "restartPolicy"), spec.Template.Spec.RestartPolicy,
			[]corev1.RestartPolicy{corev1.RestartPolicyAlways}))
	}
	if spec.Template.Spec.ActiveDeadlineSeconds != nil {
		allErrs = append(allErrs, field.Forbidden(fldPath.Child("template", "spec", "activeDeadlineSeconds"), "activeDeadlineSeconds in StatefulSet is not Supported"))
	}
	return allErrs
}

func validateRollingUpdate(ru *appsv1.RollingUpdateStatefulSetStrategy, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if ru.Partition != nil {
		allErrs = append(allErrs, apimachineryvalidation.ValidateNonnegativeField(int64(*ru.Partition), fldPath.Child("partition"))...)
	}
	if mu := ru.MaxUnavailable; mu != nil {
		p := fldPath.Child("maxUnavailable")
		allErrs = append(allErrs, deployment.ValidatePositiveIntOrPercent(*mu, p)...)
		if v, err := intOrPercent(*mu); err == nil && v == 0 {
			allErrs = append(allErrs, field.Invalid(p, *mu, "cannot be 0"))
		}
		allErrs = append(allErrs, deployment.IsNotMoreThan100Percent(*mu, p)...)
	}
	return allErrs
}

var retentionPolicyTypes = []appsv1.PersistentVolumeClaimRetentionPolicyType{
	appsv1.RetainPersistentVolumeClaimRetentionPolicyType, appsv1.DeletePersistentVolumeClaimRetentionPolicyType,
}

func validateRetentionPolicyType(t appsv1.PersistentVolumeClaimRetentionPolicyType, fldPath *field.Path) field.ErrorList {
	switch t {
	case appsv1.RetainPersistentVolumeClaimRetentionPolicyType, appsv1.DeletePersistentVolumeClaimRetentionPolicyType:
		return nil
	default:
		return field.ErrorList{field.NotSupported(fldPath, t, retentionPolicyTypes)}
	}
}

// ValidateStatefulSetStatusUpdate validates a write to statefulsets/status.
func ValidateStatefulSetStatusUpdate(s, old *appsv1.StatefulSet) field.ErrorList {
	fldPath := field.NewPath("status")
	st := &s.Status
	var allErrs field.ErrorList
	for _, f := range []struct {
		name string
		v    int32
	}{
		{"replicas", st.Replicas}, {"readyReplicas", st.ReadyReplicas}, {"currentReplicas", st.CurrentReplicas},
		{"updatedReplicas", st.UpdatedReplicas}, {"availableReplicas", st.AvailableReplicas},
	} {
		allErrs = append(allErrs, apimachineryvalidation.ValidateNonnegativeField(int64(f.v), fldPath.Child(f.name))...)
	}
	allErrs = append(allErrs, apimachineryvalidation.ValidateNonnegativeField(st.ObservedGeneration, fldPath.Child("observedGeneration"))...)
	if st.CollisionCount != nil {
		allErrs = append(allErrs, apimachineryvalidation.ValidateNonnegativeField(int64(*st.CollisionCount), fldPath.Child("collisionCount"))...)
	}
	const msg = "cannot be greater than status.replicas"
	for _, f := range []struct {
		name string
		v    int32
	}{
		{"readyReplicas", st.ReadyReplicas}, {"currentReplicas", st.CurrentReplicas},
		{"updatedReplicas", st.UpdatedReplicas}, {"availableReplicas", st.AvailableReplicas},
	} {
		if f.v > st.Replicas {
			allErrs = append(allErrs, field.Invalid(fldPath.Child(f.name), f.v, msg))
		}
	}
	if st.AvailableReplicas > st.ReadyReplicas {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("availableReplicas"), st.AvailableReplicas, "cannot be greater than status.readyReplicas"))
	}
	allErrs = append(allErrs, apimachineryvalidation.ValidateObjectMetaUpdate(&s.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))...)
	if (st.CollisionCount == nil && old.Status.CollisionCount != nil) ||
		(st.CollisionCount != nil && old.Status.CollisionCount != nil && *st.CollisionCount < *old.Status.CollisionCount) {
		v := int32(0)
		if st.CollisionCount != nil {
			v = *st.CollisionCount
		}
		allErrs = append(allErrs, field.Invalid(fldPath.Child("collisionCount"), v, "cannot be decremented"))
	}
	return allErrs
}

// intOrPercent returns the number of an int or "N%" value.
func intOrPercent(v intstr.IntOrString) (int, error) {
	if v.Type == intstr.Int {
		return v.IntValue(), nil
	}
	s, ok := strings.CutSuffix(v.StrVal, "%")
	if !ok {
		return 0, fmt.Errorf("invalid value %q: not a percentage", v.StrVal)
	}
	return strconv.Atoi(s)
}

package replicaset

import (
	"context"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/svcnet/svcnet/internal/registry"
	"github.com/svcnet/svcnet/internal/registry/core/podtemplate"
)

const greaterThanReplicas = "cannot be greater than status.replicas"

// Resource describes apps/v1 replicasets as upstream's discovery does.
func Resource() registry.Resource {
	return registry.Resource{
		Group:          "apps",
		Version:        "v1",
		Resource:       "replicasets",
		Kind:           "ReplicaSet",
		ListKind:       "ReplicaSetList",
		SingularName:   "replicaset",
		ShortNames:     []string{"rs"},
		Categories:     []string{"all"},
		Namespaced:     true,
		Verbs:          []string{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"},
		New:            func() runtime.Object { return &appsv1.ReplicaSet{} },
		NewList:        func() runtime.Object { return &appsv1.ReplicaSetList{} },
		Strategy:       Strategy{},
		StatusStrategy: StatusStrategy{},
		Scale: &registry.ScaleAccessor{
			Get: func(obj runtime.Object) (int32, int32, string) {
				rs := obj.(*appsv1.ReplicaSet)
				return replicas(rs.Spec.Replicas), rs.Status.Replicas, selectorString(rs.Spec.Selector)
			},
			Set: func(obj runtime.Object, n int32) { obj.(*appsv1.ReplicaSet).Spec.Replicas = &n },
		},
		Fields: Fields,
	}
}

// Fields returns the field-selector set of a replica set.
func Fields(obj runtime.Object) fields.Set {
	rs := obj.(*appsv1.ReplicaSet)
	return fields.Set{
		"metadata.name":      rs.Name,
		"metadata.namespace": rs.Namespace,
		"status.replicas":    strconv.Itoa(int(rs.Status.Replicas)),
	}
}

// Default applies upstream's SetDefaults_ReplicaSet and the pod template
// defaults.
func Default(rs *appsv1.ReplicaSet) {
	if rs.Spec.Replicas == nil {
		one := int32(1)
		rs.Spec.Replicas = &one
	}
	podtemplate.DefaultPodTemplateSpec(&rs.Spec.Template)
}

// Strategy is the create/update strategy of replica sets.
type Strategy struct{}

var (
	_ registry.Strategy       = Strategy{}
	_ registry.StatusStrategy = StatusStrategy{}
)

// Default applies the replica set defaults.
func (Strategy) Default(obj runtime.Object) { Default(obj.(*appsv1.ReplicaSet)) }

// PrepareForCreate clears status and sets generation 1.
func (Strategy) PrepareForCreate(_ context.Context, obj runtime.Object) {
	rs := obj.(*appsv1.ReplicaSet)
	rs.Status = appsv1.ReplicaSetStatus{}
	rs.Generation = 1
}

// PrepareForUpdate keeps status and bumps generation when the spec changed.
func (Strategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	rs, o := obj.(*appsv1.ReplicaSet), old.(*appsv1.ReplicaSet)
	rs.Status = o.Status
	if !apiequality.Semantic.DeepEqual(rs.Spec, o.Spec) {
		rs.Generation = o.Generation + 1
	}
}

// Validate validates a new replica set.
func (Strategy) Validate(_ context.Context, obj runtime.Object) field.ErrorList {
	return ValidateReplicaSet(obj.(*appsv1.ReplicaSet))
}

// ValidateUpdate validates a replica set update.
func (Strategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	return ValidateReplicaSetUpdate(obj.(*appsv1.ReplicaSet), old.(*appsv1.ReplicaSet))
}

// StatusStrategy governs writes to replicasets/status.
type StatusStrategy struct{}

// PrepareForUpdate keeps spec and labels from old.
func (StatusStrategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	rs, o := obj.(*appsv1.ReplicaSet), old.(*appsv1.ReplicaSet)
	rs.Spec = o.Spec
	rs.Labels = o.Labels
}

// ValidateUpdate validates a status write.
func (StatusStrategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	return ValidateReplicaSetStatusUpdate(obj.(*appsv1.ReplicaSet), old.(*appsv1.ReplicaSet))
}

// ValidateReplicaSet validates a new replica set.
func ValidateReplicaSet(rs *appsv1.ReplicaSet) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMeta(&rs.ObjectMeta, true, apimachineryvalidation.NameIsDNSSubdomain, field.NewPath("metadata"))
	return append(allErrs, ValidateReplicaSetSpec(&rs.Spec, field.NewPath("spec"))...)
}

// ValidateReplicaSetUpdate validates an update; in apps/v1 the selector is
// immutable.
func ValidateReplicaSetUpdate(rs, old *appsv1.ReplicaSet) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMetaUpdate(&rs.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	allErrs = append(allErrs, ValidateReplicaSetSpec(&rs.Spec, field.NewPath("spec"))...)
	return append(allErrs, apimachineryvalidation.ValidateImmutableField(rs.Spec.Selector, old.Spec.Selector, field.NewPath("spec", "selector"))...)
}

// ValidateReplicaSetSpec validates a (defaulted) replica set spec. The
// empty-selector message names deployments, as upstream's does.
func ValidateReplicaSetSpec(spec *appsv1.ReplicaSetSpec, fldPath *field.Path) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateNonnegativeField(int64(replicas(spec.Replicas)), fldPath.Child("replicas"))
	allErrs = append(allErrs, apimachineryvalidation.ValidateNonnegativeField(int64(spec.MinReadySeconds), fldPath.Child("minReadySeconds"))...)
	allErrs = append(allErrs, podtemplate.ValidateSelector(spec.Selector, "empty selector is invalid for deployment", fldPath.Child("selector"))...)
	selector, err := metav1.LabelSelectorAsSelector(spec.Selector)
	if err != nil {
		return append(allErrs, field.Invalid(fldPath.Child("selector"), spec.Selector, "invalid label selector"))
	}
	return append(allErrs, podtemplate.ValidateReplicaSetTemplate(&spec.Template, selector, fldPath.Child("template"))...)
}

// ValidateReplicaSetStatusUpdate validates a write to replicasets/status.
func ValidateReplicaSetStatusUpdate(rs, old *appsv1.ReplicaSet) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMetaUpdate(&rs.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	fldPath := field.NewPath("status")
	st := &rs.Status
	for _, f := range []struct {
		name string
		v    int64
	}{
		{"replicas", int64(st.Replicas)}, {"fullyLabeledReplicas", int64(st.FullyLabeledReplicas)},
		{"readyReplicas", int64(st.ReadyReplicas)}, {"availableReplicas", int64(st.AvailableReplicas)},
		{"observedGeneration", st.ObservedGeneration},
	} {
		allErrs = append(allErrs, apimachineryvalidation.ValidateNonnegativeField(f.v, fldPath.Child(f.name))...)
	}
	if st.TerminatingReplicas != nil {
		allErrs = append(allErrs, apimachineryvalidation.ValidateNonnegativeField(int64(*st.TerminatingReplicas), fldPath.Child("terminatingReplicas"))...)
	}
	if st.FullyLabeledReplicas > st.Replicas {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("fullyLabeledReplicas"), st.FullyLabeledReplicas, greaterThanReplicas))
	}
	if st.ReadyReplicas > st.Replicas {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("readyReplicas"), st.ReadyReplicas, greaterThanReplicas))
	}
	if st.AvailableReplicas > st.Replicas {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("availableReplicas"), st.AvailableReplicas, greaterThanReplicas))
	}
	if st.AvailableReplicas > st.ReadyReplicas {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("availableReplicas"), st.AvailableReplicas, "cannot be greater than readyReplicas"))
	}
	return allErrs
}

func replicas(r *int32) int32 {
	if r == nil {
		return 0
	}
	return *r
}

func selectorString(sel *metav1.LabelSelector) string {
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return ""
	}
	return s.String()
}

package controllerrevision

import (
	"context"

	appsv1 "k8s.io/api/apps/v1"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/svcnet/svcnet/internal/registry"
)

// Resource describes apps/v1 controllerrevisions as upstream's discovery
// does.
func Resource() registry.Resource {
	return registry.Resource{
		Group:        "apps",
		Version:      "v1",
		Resource:     "controllerrevisions",
		Kind:         "ControllerRevision",
		ListKind:     "ControllerRevisionList",
		SingularName: "controllerrevision",
		Namespaced:   true,
		Verbs:        []string{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"},
		New:          func() runtime.Object { return &appsv1.ControllerRevision{} },
		NewList:      func() runtime.Object { return &appsv1.ControllerRevisionList{} },
		Strategy:     Strategy{},
		Fields: func(obj runtime.Object) fields.Set {
			r := obj.(*appsv1.ControllerRevision)
			return fields.Set{"metadata.name": r.Name, "metadata.namespace": r.Namespace}
		},
	}
}

// Strategy is the create/update strategy of controller revisions. They
// have no status and no defaults.
type Strategy struct{}

var _ registry.Strategy = Strategy{}

// Default does nothing: controller revisions have no defaults.
func (Strategy) Default(runtime.Object) {}

// PrepareForCreate does nothing.
func (Strategy) PrepareForCreate(context.Context, runtime.Object) {}

// PrepareForUpdate does nothing.
func (Strategy) PrepareForUpdate(context.Context, runtime.Object, runtime.Object) {}

// Validate validates a new controller revision.
func (Strategy) Validate(_ context.Context, obj runtime.Object) field.ErrorList {
	return ValidateControllerRevision(obj.(*appsv1.ControllerRevision))
}

// ValidateUpdate validates an update; data is immutable.
func (Strategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	return ValidateControllerRevisionUpdate(obj.(*appsv1.ControllerRevision), old.(*appsv1.ControllerRevision))
}

// ValidateControllerRevision requires valid metadata, data and a
// non-negative revision.
func ValidateControllerRevision(r *appsv1.ControllerRevision) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMeta(&r.ObjectMeta, true, apimachineryvalidation.NameIsDNSSubdomain, field.NewPath("metadata"))
	if r.Data.Raw == nil && r.Data.Object == nil {
		allErrs = append(allErrs, field.Required(field.NewPath("data"), "data is mandatory"))
	}
	return append(allErrs, apimachineryvalidation.ValidateNonnegativeField(r.Revision, field.NewPath("revision"))...)
}

// ValidateControllerRevisionUpdate validates an update of r from old.
func ValidateControllerRevisionUpdate(r, old *appsv1.ControllerRevision) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMetaUpdate(&r.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	allErrs = append(allErrs, ValidateControllerRevision(r)...)
	return append(allErrs, apimachineryvalidation.ValidateImmutableField(r.Data, old.Data, field.NewPath("data"))...)
}

package role

import (
	"context"
	"errors"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/api/validation/path"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/svcnet/svcnet/internal/registry"
)

// Verbs are the verbs of every RBAC resource.
var Verbs = []string{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}

// Resources returns roles and clusterroles.
func Resources() []registry.Resource {
	return []registry.Resource{
		{Group: rbacv1.GroupName, Version: "v1", Resource: "roles", Kind: "Role", ListKind: "RoleList",
			SingularName: "role", Namespaced: true, Verbs: Verbs,
			New:      func() runtime.Object { return &rbacv1.Role{} },
			NewList:  func() runtime.Object { return &rbacv1.RoleList{} },
			Strategy: Strategy{Check: func(obj runtime.Object) field.ErrorList { return ValidateRole(obj.(*rbacv1.Role)) }},
			Fields:   MetaFields},
		{Group: rbacv1.GroupName, Version: "v1", Resource: "clusterroles", Kind: "ClusterRole", ListKind: "ClusterRoleList",
			SingularName: "clusterrole", Verbs: Verbs,
			New:     func() runtime.Object { return &rbacv1.ClusterRole{} },
			NewList: func() runtime.Object { return &rbacv1.ClusterRoleList{} },
			Strategy: Strategy{Check: func(obj runtime.Object) field.ErrorList {
				return ValidateClusterRole(obj.(*rbacv1.ClusterRole))
			}},
			Fields: MetaFields},
	}
}

// Strategy is the strategy of every RBAC object: no defaults, status or
// generation, only validation.
type Strategy struct {
	// Check validates an object, metadata included.
	Check func(obj runtime.Object) field.ErrorList
	// CheckUpdate, when set, adds the rules of an update from old.
	CheckUpdate func(obj, old runtime.Object) field.ErrorList
}

var _ registry.Strategy = Strategy{}

// Default does nothing: RBAC objects have no defaults.
func (Strategy) Default(runtime.Object) {}

// PrepareForCreate does nothing.
func (Strategy) PrepareForCreate(context.Context, runtime.Object) {}

// PrepareForUpdate does nothing.
func (Strategy) PrepareForUpdate(context.Context, runtime.Object, runtime.Object) {}

// Validate validates a new object.
func (s Strategy) Validate(_ context.Context, obj runtime.Object) field.ErrorList {
	return s.Check(obj)
}

// ValidateUpdate validates an update: the object, its metadata change and
// CheckUpdate.
func (s Strategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	errs := append(s.Check(obj), ValidateMetaUpdate(obj, old)...)
	if s.CheckUpdate != nil {
		errs = append(errs, s.CheckUpdate(obj, old)...)
	}
	return errs
}

// ValidateMetaUpdate checks the metadata of an update of any RBAC object.
func ValidateMetaUpdate(obj, old runtime.Object) field.ErrorList {
	newMeta, err1 := meta.Accessor(obj)
	oldMeta, err2 := meta.Accessor(old)
	if err1 != nil || err2 != nil {
		return field.ErrorList{field.InternalError(field.NewPath("metadata"), errors.Join(err1, err2))}
	}
	return apimachineryvalidation.ValidateObjectMetaAccessorUpdate(newMeta, oldMeta, field.NewPath("metadata"))
}

// MetaFields is the field-selector set of any RBAC object: metadata only.
func MetaFields(obj runtime.Object) fields.Set {
	m, err := meta.Accessor(obj)
	if err != nil {
		return fields.Set{}
	}
	set := fields.Set{"metadata.name": m.GetName()}
	if m.GetNamespace() != "" {
		set["metadata.namespace"] = m.GetNamespace()
	}
	return set
}

// NameIsValid is upstream's rule for RBAC object names: path segments.
func NameIsValid(name string, _ bool) []string { return path.IsValidPathSegmentName(name) }

// ValidateRole validates a Role: its name and rules (no non-resource
// URLs in a namespace).
func ValidateRole(r *rbacv1.Role) field.ErrorList {
	errs := apimachineryvalidation.ValidateObjectMeta(&r.ObjectMeta, true, NameIsValid, field.NewPath("metadata"))
	for i := range r.Rules {
		errs = append(errs, validateRule(&r.Rules[i], true, field.NewPath("rules").Index(i))...)
	}
	return errs
}

// ValidateClusterRole validates a ClusterRole. An aggregated one may come
// without rules: the aggregation fills them.
func ValidateClusterRole(r *rbacv1.ClusterRole) field.ErrorList {
	errs := apimachineryvalidation.ValidateObjectMeta(&r.ObjectMeta, false, NameIsValid, field.NewPath("metadata"))
	for i := range r.Rules {
		errs = append(errs, validateRule(&r.Rules[i], false, field.NewPath("rules").Index(i))...)
	}
	if a := r.AggregationRule; a != nil && len(a.ClusterRoleSelectors) == 0 {
		errs = append(errs, field.Required(field.NewPath("aggregationRule", "clusterRoleSelectors"), "at least one clusterRoleSelector required if aggregationRule is non-nil"))
	}
	return errs
}

// validateRule checks one policy rule as upstream does.
func validateRule(rule *rbacv1.PolicyRule, namespaced bool, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(rule.Verbs) == 0 {
		errs = append(errs, field.Required(p.Child("verbs"), "verbs must contain at least one value"))
	}
	if len(rule.NonResourceURLs) > 0 {
		if namespaced {
			errs = append(errs, field.Invalid(p.Child("nonResourceURLs"), rule.NonResourceURLs, "namespaced rules cannot apply to non-resource URLs"))
		}
		if len(rule.APIGroups) > 0 || len(rule.Resources) > 0 || len(rule.ResourceNames) > 0 {
			errs = append(errs, field.Invalid(p.Child("nonResourceURLs"), rule.NonResourceURLs, "rules cannot apply to both regular resources and non-resource URLs"))
		}
		return errs
	}
	if len(rule.APIGroups) == 0 {
		errs = append(errs, field.Required(p.Child("apiGroups"), "resource rules must supply at least one api group"))
	}
	if len(rule.Resources) == 0 {
		errs = append(errs, field.Required(p.Child("resources"), "resource rules must supply at least one resource"))
	}
	return errs
}

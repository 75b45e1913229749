package rolebinding

import (
	rbacv1 "k8s.io/api/rbac/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/api/validation/path"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/svcnet/svcnet/internal/registry"
	"github.com/svcnet/svcnet/internal/registry/rbac/role"
)

// Resources returns rolebindings and clusterrolebindings.
func Resources() []registry.Resource {
	return []registry.Resource{
		{Group: rbacv1.GroupName, Version: "v1", Resource: "rolebindings", Kind: "RoleBinding", ListKind: "RoleBindingList",
			SingularName: "rolebinding", Namespaced: true, Verbs: role.Verbs,
			New:     func() runtime.Object { return &rbacv1.RoleBinding{} },
			NewList: func() runtime.Object { return &rbacv1.RoleBindingList{} },
			Strategy: role.Strategy{Check: func(obj runtime.Object) field.ErrorList {
				b := obj.(*rbacv1.RoleBinding)
				return validate(&b.ObjectMeta, b.RoleRef, b.Subjects, true)
			}, CheckUpdate: roleRefFixed(func(obj runtime.Object) rbacv1.RoleRef { return obj.(*rbacv1.RoleBinding).RoleRef })},
			Fields: role.MetaFields},
		{Group: rbacv1.GroupName, Version: "v1", Resource: "clusterrolebindings", Kind: "ClusterRoleBinding",
			ListKind: "ClusterRoleBindingList", SingularName: "clusterrolebinding", Verbs: role.Verbs,
			New:     func() runtime.Object { return &rbacv1.ClusterRoleBinding{} },
			NewList: func() runtime.Object { return &rbacv1.ClusterRoleBindingList{} },
			Strategy: role.Strategy{Check: func(obj runtime.Object) field.ErrorList {
				b := obj.(*rbacv1.ClusterRoleBinding)
				return validate(&b.ObjectMeta, b.RoleRef, b.Subjects, false)
			}, CheckUpdate: roleRefFixed(func(obj runtime.Object) rbacv1.RoleRef { return obj.(*rbacv1.ClusterRoleBinding).RoleRef })},
			Fields: role.MetaFields},
	}
}

// roleRefFixed refuses an update that changes the roleRef: a binding
// never points at another role (delete and re-create it instead), as
// upstream.
func roleRefFixed(ref func(runtime.Object) rbacv1.RoleRef) func(obj, old runtime.Object) field.ErrorList {
	return func(obj, old runtime.Object) field.ErrorList {
		if r := ref(obj); !apiequality.Semantic.DeepEqual(r, ref(old)) {
			return field.ErrorList{field.Invalid(field.NewPath("roleRef"), r, "cannot change roleRef")}
		}
		return nil
	}
}

// validate checks a binding's name, roleRef and subjects as upstream does;
// a ClusterRoleBinding (namespaced false) may only name a ClusterRole and
// its ServiceAccount subjects need a namespace.
func validate(m *metav1.ObjectMeta, ref rbacv1.RoleRef, subjects []rbacv1.Subject, namespaced bool) field.ErrorList {
	errs := apimachineryvalidation.ValidateObjectMeta(m, namespaced, role.NameIsValid, field.NewPath("metadata"))
	refPath := field.NewPath("roleRef")
	if ref.APIGroup != rbacv1.GroupName {
		errs = append(errs, field.NotSupported(refPath.Child("apiGroup"), ref.APIGroup, []string{rbacv1.GroupName}))
	}
	kinds := []string{"ClusterRole"}
	if namespaced {
		kinds = []string{"Role", "ClusterRole"}
	}
	if ref.Kind != kinds[0] && ref.Kind != kinds[len(kinds)-1] {
		errs = append(errs, field.NotSupported(refPath.Child("kind"), ref.Kind, kinds))
	}
	if ref.Name == "" {
		errs = append(errs, field.Required(refPath.Child("name"), ""))
	} else {
		for _, msg := range path.IsValidPathSegmentName(ref.Name) {
			errs = append(errs, field.Invalid(refPath.Child("name"), ref.Name, msg))
		}
	}
	for i, s := range subjects {
		errs = append(errs, validateSubject(s, namespaced, field.NewPath("subjects").Index(i))...)
	}
	return errs
}

func validateSubject(s rbacv1.Subject, namespaced bool, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if s.Name == "" {
		errs = append(errs, field.Required(p.Child("name"), ""))
	}
	switch s.Kind {
	case rbacv1.ServiceAccountKind:
		if s.APIGroup != "" {
			errs = append(errs, field.NotSupported(p.Child("apiGroup"), s.APIGroup, []string{""}))
		}
		if !namespaced && s.Namespace == "" {
			errs = append(errs, field.Required(p.Child("namespace"), ""))
		}
	case rbacv1.UserKind, rbacv1.GroupKind:
		if s.APIGroup != rbacv1.GroupName {
			errs = append(errs, field.NotSupported(p.Child("apiGroup"), s.APIGroup, []string{rbacv1.GroupName}))
		}
	default:
		errs = append(errs, field.NotSupported(p.Child("kind"), s.Kind,
			[]string{rbacv1.ServiceAccountKind, rbacv1.UserKind, rbacv1.GroupKind}))
	}
	return errs
}

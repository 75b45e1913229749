package ingressclass

import (
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/validate/content"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// maxControllerLen bounds spec.controller, as upstream does.
const maxControllerLen = 250

// scopes are the parameters scopes upstream accepts, sorted.
var scopes = []string{networkingv1.IngressClassParametersReferenceScopeCluster, networkingv1.IngressClassParametersReferenceScopeNamespace}

// ValidateIngressClass validates a new ingress class.
func ValidateIngressClass(c *networkingv1.IngressClass) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMeta(&c.ObjectMeta, false, apimachineryvalidation.NameIsDNSSubdomain, field.NewPath("metadata"))
	return append(allErrs, validateSpec(&c.Spec, field.NewPath("spec"))...)
}

// ValidateIngressClassUpdate validates an update: spec.controller may not
// change.
func ValidateIngressClassUpdate(c, old *networkingv1.IngressClass) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMetaUpdate(&c.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	allErrs = append(allErrs, apimachineryvalidation.ValidateImmutableField(c.Spec.Controller, old.Spec.Controller, field.NewPath("spec", "controller"))...)
	return append(allErrs, ValidateIngressClass(c)...)
}

func validateSpec(spec *networkingv1.IngressClassSpec, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	p := fldPath.Child("controller")
	switch {
	case spec.Controller == "":
		allErrs = append(allErrs, field.Required(p, ""))
	default:
		if len(spec.Controller) > maxControllerLen {
			allErrs = append(allErrs, field.TooLong(p, "", maxControllerLen))
		}
		allErrs = append(allErrs, validation.IsDomainPrefixedPath(p, spec.Controller)...)
	}
	if spec.Parameters != nil {
		allErrs = append(allErrs, validateParameters(spec.Parameters, fldPath.Child("parameters"))...)
	}
	return allErrs
}

// validateParameters checks the reference to the controller's
// configuration object: kind and name, and a namespace exactly when the
// scope is Namespace.
func validateParameters(params *networkingv1.IngressClassParametersReference, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if params.APIGroup != nil {
		allErrs = append(allErrs, invalids(fldPath.Child("apiGroup"), *params.APIGroup, validation.IsDNS1123Subdomain(*params.APIGroup))...)
	}
	allErrs = append(allErrs, requiredSegment(fldPath.Child("kind"), params.Kind)...)
	allErrs = append(allErrs, requiredSegment(fldPath.Child("name"), params.Name)...)
	if params.Scope == nil {
		return append(allErrs, field.Required(fldPath.Child("scope"), ""))
	}
	switch *params.Scope {
	case networkingv1.IngressClassParametersReferenceScopeNamespace:
		if params.Namespace == nil {
			allErrs = append(allErrs, field.Required(fldPath.Child("namespace"), "`parameters.scope` is set to 'Namespace'"))
		} else {
			allErrs = append(allErrs, invalids(fldPath.Child("namespace"), *params.Namespace,
				apimachineryvalidation.ValidateNamespaceName(*params.Namespace, false))...)
		}
	case networkingv1.IngressClassParametersReferenceScopeCluster:
		if params.Namespace != nil {
			allErrs = append(allErrs, field.Forbidden(fldPath.Child("namespace"), "`parameters.scope` is set to 'Cluster'"))
		}
	default:
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("scope"), *params.Scope, scopes))
	}
	return allErrs
}

// requiredSegment checks a value that is required and must be usable as
// one segment of a URL path.
func requiredSegment(fldPath *field.Path, v string) field.ErrorList {
	if v == "" {
		return field.ErrorList{field.Required(fldPath, "")}
	}
	return invalids(fldPath, v, content.IsPathSegmentName(v))
}

// invalids turns validator messages into Invalid errors at fldPath.
func invalids(fldPath *field.Path, value any, msgs []string) field.ErrorList {
	var allErrs field.ErrorList
	for _, msg := range msgs {
		allErrs = append(allErrs, field.Invalid(fldPath, value, msg))
	}
	return allErrs
}

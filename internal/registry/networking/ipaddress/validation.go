package ipaddress

import (
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/validate/content"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// ValidateName accepts the canonical form of an IP address (no leading
// zeros, no IPv4-mapped IPv6, IPv6 compressed and lower case). IPAddress
// names are never generated, so prefix is ignored.
func ValidateName(name string, _ bool) []string {
	var msgs []string
	for _, e := range validation.IsValidIP(nil, name) {
		msgs = append(msgs, e.Detail)
	}
	return msgs
}

// ValidateIPAddress validates a new IPAddress.
func ValidateIPAddress(ip *networkingv1.IPAddress) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMeta(&ip.ObjectMeta, false, ValidateName, field.NewPath("metadata"))
	return append(allErrs, validateParentRef(ip.Spec.ParentRef, field.NewPath("spec", "parentRef"))...)
}

// validateParentRef requires a resource and a name; the group may be ""
// (core Services), the namespace is optional.
func validateParentRef(ref *networkingv1.ParentReference, fldPath *field.Path) field.ErrorList {
	if ref == nil {
		return field.ErrorList{field.Required(fldPath, "")}
	}
	var allErrs field.ErrorList
	if ref.Group != "" {
		for _, msg := range validation.IsDNS1123Subdomain(ref.Group) {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("group"), ref.Group, msg))
		}
	}
	allErrs = append(allErrs, segment(fldPath.Child("resource"), ref.Resource, true)...)
	allErrs = append(allErrs, segment(fldPath.Child("name"), ref.Name, true)...)
	return append(allErrs, segment(fldPath.Child("namespace"), ref.Namespace, false)...)
}

// segment checks a value usable as one segment of a URL path.
func segment(fldPath *field.Path, v string, required bool) field.ErrorList {
	if v == "" {
		if required {
			return field.ErrorList{field.Required(fldPath, "")}
		}
		return nil
	}
	var allErrs field.ErrorList
	for _, msg := range content.IsPathSegmentName(v) {
		allErrs = append(allErrs, field.Invalid(fldPath, v, msg))
	}
	return allErrs
}

// ValidateIPAddressUpdate validates an update: spec.parentRef is
// immutable.
func ValidateIPAddressUpdate(ip, old *networkingv1.IPAddress) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMetaUpdate(&ip.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	return append(allErrs, apimachineryvalidation.ValidateImmutableField(ip.Spec.ParentRef, old.Spec.ParentRef, field.NewPath("spec", "parentRef"))...)
}

package servicecidr

import (
	"net/netip"

	networkingv1 "k8s.io/api/networking/v1"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// ValidateServiceCIDR validates a new ServiceCIDR.
func ValidateServiceCIDR(c *networkingv1.ServiceCIDR) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMeta(&c.ObjectMeta, false, apimachineryvalidation.NameIsDNSSubdomain, field.NewPath("metadata"))
	return append(allErrs, validateSpec(&c.Spec, field.NewPath("spec", "cidrs"))...)
}

// validateSpec checks one or two canonical CIDRs, not of the same family.
func validateSpec(spec *networkingv1.ServiceCIDRSpec, fldPath *field.Path) field.ErrorList {
	switch n := len(spec.CIDRs); {
	case n == 0:
		return field.ErrorList{field.Required(fldPath, "at least one CIDR required")}
	case n > 2:
		return field.ErrorList{field.Invalid(fldPath, spec, "may only hold up to 2 values")}
	}
	var allErrs field.ErrorList
	for i, c := range spec.CIDRs {
		allErrs = append(allErrs, validation.IsValidCIDR(fldPath.Index(i), c)...)
	}
	if len(spec.CIDRs) == 2 {
		a, b := family(spec.CIDRs[0]), family(spec.CIDRs[1])
		if a != 0 && a == b {
			allErrs = append(allErrs, field.Invalid(fldPath, spec.CIDRs,
				"may specify no more than one IP for each IP family, i.e 192.168.0.0/24 and 2001:db8::/64"))
		}
	}
	return allErrs
}

// family is 4 or 6 for a CIDR that parses, 0 otherwise.
func family(cidr string) int {
	p, err := netip.ParsePrefix(cidr)
	switch {
	case err != nil:
		return 0
	case p.Addr().Is4():
		return 4
	}
	return 6
}

// ValidateServiceCIDRUpdate validates an update: the CIDRs never change,
// except that a single-family ServiceCIDR may gain a CIDR of the other
// family (upstream issue 131261: converting a cluster to dual-stack).
func ValidateServiceCIDRUpdate(c, old *networkingv1.ServiceCIDR) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMetaUpdate(&c.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	p := field.NewPath("spec", "cidrs")
	switch {
	case len(c.Spec.CIDRs) == len(old.Spec.CIDRs):
		for i := range old.Spec.CIDRs {
			if c.Spec.CIDRs[i] != old.Spec.CIDRs[i] {
				allErrs = append(allErrs, field.Invalid(p.Index(i), c.Spec.CIDRs[i], apimachineryvalidation.FieldImmutableErrorMsg))
			}
		}
	case len(old.Spec.CIDRs) == 1 && len(c.Spec.CIDRs) == 2:
		if c.Spec.CIDRs[0] != old.Spec.CIDRs[0] {
			allErrs = append(allErrs, field.Invalid(p.Index(0), c.Spec.CIDRs[0], apimachineryvalidation.FieldImmutableErrorMsg))
		}
		allErrs = append(allErrs, validateSpec(&c.Spec, p)...)
	default:
		allErrs = append(allErrs, field.Invalid(p, c.Spec.CIDRs, apimachineryvalidation.FieldImmutableErrorMsg))
	}
	return allErrs
}

// ValidateServiceCIDRStatusUpdate validates a status write.
func ValidateServiceCIDRStatusUpdate(c, old *networkingv1.ServiceCIDR) field.ErrorList {
	return apimachineryvalidation.ValidateObjectMetaUpdate(&c.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
}

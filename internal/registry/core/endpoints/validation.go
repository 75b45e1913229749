package endpoints

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	netutils "k8s.io/utils/net"
)

// SupportedProtocols are the port protocols endpoints and endpoint
// slices accept.
var SupportedProtocols = []corev1.Protocol{corev1.ProtocolSCTP, corev1.ProtocolTCP, corev1.ProtocolUDP}

// ValidateEndpoints validates endpoints: metadata and subsets.
func ValidateEndpoints(e *corev1.Endpoints) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMeta(&e.ObjectMeta, true, apimachineryvalidation.NameIsDNSSubdomain, field.NewPath("metadata"))
	return append(allErrs, validateSubsets(e.Subsets, field.NewPath("subsets"))...)
}

// ValidateEndpointsUpdate validates an endpoints update.
func ValidateEndpointsUpdate(e, old *corev1.Endpoints) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMetaUpdate(&e.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	return append(allErrs, ValidateEndpoints(e)...)
}

func validateSubsets(subsets []corev1.EndpointSubset, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for i, ss := range subsets {
		idxPath := fldPath.Index(i)
		// Headless services may have endpoints without ports, but never
		// a subset without addresses.
		if len(ss.Addresses) == 0 && len(ss.NotReadyAddresses) == 0 {
			allErrs = append(allErrs, field.Required(idxPath, "must specify `addresses` or `notReadyAddresses`"))
		}
		for j := range ss.Addresses {
			allErrs = append(allErrs, validateAddress(&ss.Addresses[j], idxPath.Child("addresses").Index(j))...)
		}
		for j := range ss.NotReadyAddresses {
			allErrs = append(allErrs, validateAddress(&ss.NotReadyAddresses[j], idxPath.Child("notReadyAddresses").Index(j))...)
		}
		for j := range ss.Ports {
			allErrs = append(allErrs, validatePort(&ss.Ports[j], len(ss.Ports) > 1, idxPath.Child("ports").Index(j))...)
		}
	}
	return allErrs
}

func validateAddress(a *corev1.EndpointAddress, fldPath *field.Path) field.ErrorList {
	allErrs := validation.IsValidIPForLegacyField(fldPath.Child("ip"), a.IP, false, nil)
	if a.Hostname != "" {
		for _, msg := range validation.IsDNS1123Label(a.Hostname) {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("hostname"), a.Hostname, msg))
		}
	}
	if a.NodeName != nil {
		for _, msg := range apimachineryvalidation.NameIsDNSSubdomain(*a.NodeName, false) {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("nodeName"), *a.NodeName, msg))
		}
	}
	return append(allErrs, ValidateEndpointIP(a.IP, fldPath.Child("ip"))...)
}

func validatePort(p *corev1.EndpointPort, requireName bool, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if requireName && p.Name == "" {
		allErrs = append(allErrs, field.Required(fldPath.Child("name"), ""))
	} else if p.Name != "" {
		for _, msg := range validation.IsDNS1123Label(p.Name) {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("name"), p.Name, msg))
		}
	}
	for _, msg := range validation.IsValidPortNum(int(p.Port)) {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("port"), p.Port, msg))
	}
	allErrs = append(allErrs, ValidateProtocol(p.Protocol, fldPath.Child("protocol"))...)
	if p.AppProtocol != nil {
		for _, msg := range validation.IsQualifiedName(*p.AppProtocol) {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("appProtocol"), *p.AppProtocol, msg))
		}
	}
	return allErrs
}

// ValidateProtocol requires one of SupportedProtocols.
func ValidateProtocol(p corev1.Protocol, fldPath *field.Path) field.ErrorList {
	switch p {
	case "":
		return field.ErrorList{field.Required(fldPath, "")}
	case corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP:
		return nil
	}
	return field.ErrorList{field.NotSupported(fldPath, p, SupportedProtocols)}
}

// ValidateEndpointIP rejects addresses that make no sense as a
// destination: unparsable, unspecified, loopback, link-local unicast and
// link-local multicast. It is upstream's check for Endpoints and
// EndpointSlice addresses.
func ValidateEndpointIP(ip string, fldPath *field.Path) field.ErrorList {
	parsed := netutils.ParseIPSloppy(ip)
	if parsed == nil {
		return field.ErrorList{field.Invalid(fldPath, ip, "must be a valid IP address")}
	}
	var allErrs field.ErrorList
	if parsed.IsUnspecified() {
		allErrs = append(allErrs, field.Invalid(fldPath, ip, fmt.Sprintf("may not be unspecified (%v)", ip)))
	}
	if parsed.IsLoopback() {
		allErrs = append(allErrs, field.Invalid(fldPath, ip, "may not be in the loopback range (127.0.0.0/8, ::1/128)"))
	}
	if parsed.IsLinkLocalUnicast() {
		allErrs = append(allErrs, field.Invalid(fldPath, ip, "may not be in the link-local range (169.254.0.0/16, fe80::/10)"))
	}
	if parsed.IsLinkLocalMulticast() {
		allErrs = append(allErrs, field.Invalid(fldPath, ip, "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)"))
	}
	return allErrs
}

package endpointslice

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	netutils "k8s.io/utils/net"

	"github.com/svcnet/svcnet/internal/registry/core/endpoints"
)

// Upstream's limits.
const (
	MaxEndpoints      = 1000
	MaxAddresses      = 100
	MaxPorts          = 20000
	maxTopologyLabels = 16
	maxZoneHints      = 8
	maxNodeHints      = 8
)

var supportedAddressTypes = []discoveryv1.AddressType{discoveryv1.AddressTypeFQDN, discoveryv1.AddressTypeIPv4, discoveryv1.AddressTypeIPv6}

// ValidateEndpointSlice validates an endpoint slice.
func ValidateEndpointSlice(s *discoveryv1.EndpointSlice) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMeta(&s.ObjectMeta, true, apimachineryvalidation.NameIsDNSSubdomain, field.NewPath("metadata"))
	allErrs = append(allErrs, validateAddressType(s.AddressType)...)
	allErrs = append(allErrs, validateEndpoints(s.Endpoints, s.AddressType, field.NewPath("endpoints"))...)
	return append(allErrs, validatePorts(s.Ports, field.NewPath("ports"))...)
}

// ValidateEndpointSliceUpdate validates an update; the address type is
// immutable.
func ValidateEndpointSliceUpdate(s, old *discoveryv1.EndpointSlice) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMetaUpdate(&s.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	allErrs = append(allErrs, ValidateEndpointSlice(s)...)
	return append(allErrs, apimachineryvalidation.ValidateImmutableField(s.AddressType, old.AddressType, field.NewPath("addressType"))...)
}

func validateAddressType(t discoveryv1.AddressType) field.ErrorList {
	p := field.NewPath("addressType")
	switch t {
	case "":
		return field.ErrorList{field.Required(p, "")}
	case discoveryv1.AddressTypeIPv4, discoveryv1.AddressTypeIPv6, discoveryv1.AddressTypeFQDN:
		return nil
	}
	return field.ErrorList{field.NotSupported(p, t, supportedAddressTypes)}
}

func validateEndpoints(eps []discoveryv1.Endpoint, addrType discoveryv1.AddressType, fldPath *field.Path) field.ErrorList {
	if len(eps) > MaxEndpoints {
		return field.ErrorList{field.TooMany(fldPath, len(eps), MaxEndpoints)}
	}
	var allErrs field.ErrorList
	for i, ep := range eps {
		idxPath := fldPath.Index(i)
		addrPath := idxPath.Child("addresses")
		if len(ep.Addresses) == 0 {
			allErrs = append(allErrs, field.Required(addrPath, "must contain at least 1 address"))
		} else if len(ep.Addresses) > MaxAddresses {
			allErrs = append(allErrs, field.TooMany(addrPath, len(ep.Addresses), MaxAddresses))
		}
		for j, a := range ep.Addresses {
			allErrs = append(allErrs, validateAddress(a, addrType, addrPath.Index(j))...)
		}
		if ep.NodeName != nil {
			for _, msg := range apimachineryvalidation.NameIsDNSSubdomain(*ep.NodeName, false) {
				allErrs = append(allErrs, field.Invalid(idxPath.Child("nodeName"), *ep.NodeName, msg))
			}
		}
		topoPath := idxPath.Child("deprecatedTopology")
		if len(ep.DeprecatedTopology) > maxTopologyLabels {
			allErrs = append(allErrs, field.TooMany(topoPath, len(ep.DeprecatedTopology), maxTopologyLabels))
		}
		allErrs = append(allErrs, metav1validation.ValidateLabels(ep.DeprecatedTopology, topoPath)...)
		if _, ok := ep.DeprecatedTopology[corev1.LabelTopologyZone]; ok {
			allErrs = append(allErrs, field.InternalError(topoPath.Key(corev1.LabelTopologyZone), fmt.Errorf("reserved key was not removed in conversion")))
		}
		if ep.Hostname != nil {
			for _, msg := range validation.IsDNS1123Label(*ep.Hostname) {
				allErrs = append(allErrs, field.Invalid(idxPath.Child("hostname"), *ep.Hostname, msg))
			}
		}
		if ep.Hints != nil {
			allErrs = append(allErrs, validateHints(ep.Hints, idxPath.Child("hints"))...)
		}
	}
	return allErrs
}

// validateAddress checks one address against the slice's address type;
// addresses of an unknown type are not checked (the type error covers
// them).
func validateAddress(a string, addrType discoveryv1.AddressType, p *field.Path) field.ErrorList {
	switch addrType {
	case discoveryv1.AddressTypeIPv4, discoveryv1.AddressTypeIPv6:
		if errs := validation.IsValidIPForLegacyField(p, a, false, nil); len(errs) > 0 {
			return errs
		}
		if addrType == discoveryv1.AddressTypeIPv4 && !netutils.IsIPv4String(a) {
			return field.ErrorList{field.Invalid(p, a, "must be an IPv4 address")}
		}
		if addrType == discoveryv1.AddressTypeIPv6 && !netutils.IsIPv6String(a) {
			return field.ErrorList{field.Invalid(p, a, "must be an IPv6 address")}
		}
		return endpoints.ValidateEndpointIP(a, p)
	case discoveryv1.AddressTypeFQDN:
		return validation.IsFullyQualifiedDomainName(p, a)
	}
	return nil
}

func validatePorts(ports []discoveryv1.EndpointPort, fldPath *field.Path) field.ErrorList {
	if len(ports) > MaxPorts {
		return field.ErrorList{field.TooMany(fldPath, len(ports), MaxPorts)}
	}
	var allErrs field.ErrorList
	names := sets.New[string]()
	for i, p := range ports {
		idxPath := fldPath.Index(i)
		name := ""
		if p.Name != nil {
			name = *p.Name
		}
		if name != "" {
			for _, msg := range validation.IsDNS1123Label(name) {
				allErrs = append(allErrs, field.Invalid(idxPath.Child("name"), name, msg))
			}
		}
		if names.Has(name) {
			allErrs = append(allErrs, field.Duplicate(idxPath.Child("name"), name))
		}
		names.Insert(name)
		if p.Protocol == nil {
			allErrs = append(allErrs, field.Required(idxPath.Child("protocol"), ""))
		} else {
			allErrs = append(allErrs, endpoints.ValidateProtocol(*p.Protocol, idxPath.Child("protocol"))...)
		}
		if p.AppProtocol != nil {
			for _, msg := range validation.IsQualifiedName(*p.AppProtocol) {
				allErrs = append(allErrs, field.Invalid(idxPath.Child("appProtocol"), *p.AppProtocol, msg))
			}
		}
	}
	return allErrs
}

func validateHints(h *discoveryv1.EndpointHints, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	zonesPath := fldPath.Child("forZones")
	if len(h.ForZones) > maxZoneHints {
		allErrs = append(allErrs, field.TooMany(zonesPath, len(h.ForZones), maxZoneHints))
	} else {
		seen := sets.New[string]()
		for i, z := range h.ForZones {
			p := zonesPath.Index(i).Child("name")
			if seen.Has(z.Name) {
				allErrs = append(allErrs, field.Duplicate(p, z.Name))
			}
			seen.Insert(z.Name)
			for _, msg := range validation.IsValidLabelValue(z.Name) {
				allErrs = append(allErrs, field.Invalid(p, z.Name, msg))
			}
		}
	}
	nodesPath := fldPath.Child("forNodes")
	if len(h.ForNodes) > maxNodeHints {
		return append(allErrs, field.TooMany(nodesPath, len(h.ForNodes), maxNodeHints))
	}
	seen := sets.New[string]()
	for i, n := range h.ForNodes {
		p := nodesPath.Index(i).Child("name")
		if seen.Has(n.Name) {
			allErrs = append(allErrs, field.Duplicate(p, n.Name))
		}
		seen.Insert(n.Name)
		for _, msg := range apimachineryvalidation.NameIsDNSSubdomain(n.Name, false) {
			allErrs = append(allErrs, field.Invalid(p, n.Name, msg))
		}
	}
	return allErrs
}

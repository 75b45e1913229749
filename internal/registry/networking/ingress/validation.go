package ingress

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/validate/content"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	netutils "k8s.io/utils/net"
)

// ClassAnnotation is the deprecated annotation that named the ingress
// class before spec.ingressClassName.
const ClassAnnotation = "kubernetes.io/ingress.class"

// Path types upstream accepts, sorted as its messages list them.
var pathTypes = []string{string(networkingv1.PathTypeExact), string(networkingv1.PathTypeImplementationSpecific), string(networkingv1.PathTypePrefix)}

// Sequences and suffixes an Exact or Prefix path may not hold.
var (
	badPathSequences = []string{"//", "/./", "/../", "%2f", "%2F"}
	badPathSuffixes  = []string{"/..", "/."}
)

// options relax rules for values an object already stored may hold.
type options struct {
	// allowInvalidSecretName keeps TLS secret names that are not valid
	// Secret names (accepted by older servers).
	allowInvalidSecretName bool
	// allowInvalidWildcardHostRule skips validating the rules of wildcard
	// hosts (older servers did not).
	allowInvalidWildcardHostRule bool
}

// ValidateIngressCreate validates a new ingress: metadata, spec, and an
// ingress class annotation that must agree with spec.ingressClassName.
func ValidateIngressCreate(ing *networkingv1.Ingress) field.ErrorList {
	allErrs := validateIngress(ing, options{})
	if v, ok := ing.Annotations[ClassAnnotation]; ok && ing.Spec.IngressClassName != nil && v != *ing.Spec.IngressClassName {
		// Upstream's path has no "metadata." in front.
		allErrs = append(allErrs, field.Invalid(field.NewPath("annotations").Child(ClassAnnotation), v,
			"must match `ingressClassName` when both are specified"))
	}
	return allErrs
}

// ValidateIngressUpdate validates an ingress update, keeping the leniency
// the stored object needs.
func ValidateIngressUpdate(ing, old *networkingv1.Ingress) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMetaUpdate(&ing.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	opts := options{allowInvalidSecretName: hasInvalidSecretName(old), allowInvalidWildcardHostRule: hasInvalidWildcardRule(old)}
	return append(allErrs, validateIngress(ing, opts)...)
}

// ValidateIngressStatusUpdate validates a write to ingresses/status.
func ValidateIngressStatusUpdate(ing, old *networkingv1.Ingress) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMetaUpdate(&ing.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	return append(allErrs, validateLoadBalancerStatus(&ing.Status.LoadBalancer, &old.Status.LoadBalancer, field.NewPath("status", "loadBalancer"))...)
}

func validateIngress(ing *networkingv1.Ingress, opts options) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMeta(&ing.ObjectMeta, true, apimachineryvalidation.NameIsDNSSubdomain, field.NewPath("metadata"))
	return append(allErrs, validateSpec(&ing.Spec, field.NewPath("spec"), opts)...)
}

func validateSpec(spec *networkingv1.IngressSpec, fldPath *field.Path, opts options) field.ErrorList {
	var allErrs field.ErrorList
	if len(spec.Rules) == 0 && spec.DefaultBackend == nil {
		allErrs = append(allErrs, field.Invalid(fldPath, spec.Rules, "either `defaultBackend` or `rules` must be specified"))
	}
	if spec.DefaultBackend != nil {
		allErrs = append(allErrs, validateBackend(spec.DefaultBackend, fldPath.Child("defaultBackend"))...)
	}
	for i := range spec.Rules {
		allErrs = append(allErrs, validateRule(&spec.Rules[i], fldPath.Child("rules").Index(i), opts)...)
	}
	for i, tls := range spec.TLS {
		p := fldPath.Child("tls").Index(i)
		for j, host := range tls.Hosts {
			allErrs = append(allErrs, invalids(p.Child("hosts").Index(j), host, hostErrors(host))...)
		}
		if !opts.allowInvalidSecretName && tls.SecretName != "" {
			allErrs = append(allErrs, invalids(p.Child("secretName"), tls.SecretName,
				apimachineryvalidation.NameIsDNSSubdomain(tls.SecretName, false))...)
		}
	}
	if spec.IngressClassName != nil {
		allErrs = append(allErrs, invalids(fldPath.Child("ingressClassName"), *spec.IngressClassName,
			apimachineryvalidation.NameIsDNSSubdomain(*spec.IngressClassName, false))...)
	}
	return allErrs
}

// hostErrors checks a host that may start with a "*." wildcard label.
func hostErrors(host string) []string {
	if strings.Contains(host, "*") {
		return validation.IsWildcardDNS1123Subdomain(host)
	}
	return validation.IsDNS1123Subdomain(host)
}

func validateRule(rule *networkingv1.IngressRule, fldPath *field.Path, opts options) field.ErrorList {
	var allErrs field.ErrorList
	wildcard := strings.Contains(rule.Host, "*")
	if rule.Host != "" {
		if isIP(rule.Host) {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("host"), rule.Host, "must be a DNS name, not an IP address"))
		}
		allErrs = append(allErrs, invalids(fldPath.Child("host"), rule.Host, hostErrors(rule.Host))...)
	}
	if wildcard && rule.Host != "" && opts.allowInvalidWildcardHostRule {
		return allErrs
	}
	return append(allErrs, validateRuleValue(&rule.IngressRuleValue, fldPath)...)
}

func validateRuleValue(v *networkingv1.IngressRuleValue, fldPath *field.Path) field.ErrorList {
	if v.HTTP == nil {
		return nil
	}
	var allErrs field.ErrorList
	p := fldPath.Child("http")
	if len(v.HTTP.Paths) == 0 {
		allErrs = append(allErrs, field.Required(p.Child("paths"), ""))
	}
	for i := range v.HTTP.Paths {
		allErrs = append(allErrs, validatePath(&v.HTTP.Paths[i], p.Child("paths").Index(i))...)
	}
	return allErrs
}

func validatePath(path *networkingv1.HTTPIngressPath, fldPath *field.Path) field.ErrorList {
	if path.PathType == nil {
		return field.ErrorList{field.Required(fldPath.Child("pathType"), "pathType must be specified")}
	}
	var allErrs field.ErrorList
	pathPath := fldPath.Child("path")
	switch *path.PathType {
	case networkingv1.PathTypeExact, networkingv1.PathTypePrefix:
		if !strings.HasPrefix(path.Path, "/") {
			allErrs = append(allErrs, field.Invalid(pathPath, path.Path, "must be an absolute path"))
		}
		for _, seq := range badPathSequences {
			if strings.Contains(path.Path, seq) {
				allErrs = append(allErrs, field.Invalid(pathPath, path.Path, fmt.Sprintf("must not contain '%s'", seq)))
			}
		}
		for _, suffix := range badPathSuffixes {
			if strings.HasSuffix(path.Path, suffix) {
				allErrs = append(allErrs, field.Invalid(pathPath, path.Path, fmt.Sprintf("cannot end with '%s'", suffix)))
			}
		}
	case networkingv1.PathTypeImplementationSpecific:
		if path.Path != "" && !strings.HasPrefix(path.Path, "/") {
			allErrs = append(allErrs, field.Invalid(pathPath, path.Path, "must be an absolute path"))
		}
	default:
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("pathType"), *path.PathType, pathTypes))
	}
	return append(allErrs, validateBackend(&path.Backend, fldPath.Child("backend"))...)
}

// validateBackend checks that a backend is exactly one of a Service (by
// name, with a port name or number) or a typed resource reference.
func validateBackend(b *networkingv1.IngressBackend, fldPath *field.Path) field.ErrorList {
	switch {
	case b.Resource != nil && b.Service != nil:
		return field.ErrorList{field.Invalid(fldPath, "", "cannot set both resource and service backends")}
	case b.Resource != nil:
		return validateResourceBackend(b.Resource, fldPath.Child("resource"))
	case b.Service == nil:
		return field.ErrorList{field.Invalid(fldPath, "", "resource or service backend is required")}
	}
	var allErrs field.ErrorList
	svc := b.Service
	if svc.Name == "" {
		allErrs = append(allErrs, field.Required(fldPath.Child("service", "name"), ""))
	} else {
		allErrs = append(allErrs, invalids(fldPath.Child("service", "name"), svc.Name,
			apimachineryvalidation.NameIsDNS1035Label(svc.Name, false))...)
	}
	portPath := fldPath.Child("service", "port")
	switch {
	case svc.Port.Name != "" && svc.Port.Number != 0:
		allErrs = append(allErrs, field.Invalid(fldPath, "", "cannot set both port name & port number"))
	case svc.Port.Name != "":
		allErrs = append(allErrs, invalids(portPath.Child("name"), svc.Port.Name, validation.IsValidPortName(svc.Port.Name))...)
	case svc.Port.Number != 0:
		allErrs = append(allErrs, invalids(portPath.Child("number"), svc.Port.Number, validation.IsValidPortNum(int(svc.Port.Number)))...)
	default:
		allErrs = append(allErrs, field.Required(fldPath, "port name or number is required"))
	}
	return allErrs
}

// validateResourceBackend checks a typed reference to a backend object
// in the ingress's namespace.
func validateResourceBackend(ref *corev1.TypedLocalObjectReference, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if ref.APIGroup != nil {
		allErrs = append(allErrs, invalids(fldPath.Child("apiGroup"), *ref.APIGroup, validation.IsDNS1123Subdomain(*ref.APIGroup))...)
	}
	allErrs = append(allErrs, requiredSegment(fldPath.Child("kind"), ref.Kind)...)
	return append(allErrs, requiredSegment(fldPath.Child("name"), ref.Name)...)
}

// requiredSegment checks a value that is required and must be usable as
// one segment of a URL path.
func requiredSegment(fldPath *field.Path, v string) field.ErrorList {
	if v == "" {
		return field.ErrorList{field.Required(fldPath, "")}
	}
	return invalids(fldPath, v, content.IsPathSegmentName(v))
}

// validateLoadBalancerStatus checks the IPs and hostnames an ingress
// controller published. IPs already stored are kept even when a stricter
// parser would refuse them.
func validateLoadBalancerStatus(status, old *networkingv1.IngressLoadBalancerStatus, fldPath *field.Path) field.ErrorList {
	var oldIPs []string
	for _, ing := range old.Ingress {
		if ing.IP != "" {
			oldIPs = append(oldIPs, ing.IP)
		}
	}
	var allErrs field.ErrorList
	for i, ing := range status.Ingress {
		p := fldPath.Child("ingress").Index(i)
		if ing.IP != "" {
			allErrs = append(allErrs, validation.IsValidIPForLegacyField(p.Child("ip"), ing.IP, false, oldIPs)...)
		}
		if ing.Hostname != "" {
			allErrs = append(allErrs, invalids(p.Child("hostname"), ing.Hostname, validation.IsDNS1123Subdomain(ing.Hostname))...)
			if isIP(ing.Hostname) {
				allErrs = append(allErrs, field.Invalid(p.Child("hostname"), ing.Hostname, "must be a DNS name, not an IP address"))
			}
		}
	}
	return allErrs
}

// hasInvalidSecretName reports whether a stored ingress holds a TLS secret
// name that current validation refuses.
func hasInvalidSecretName(old *networkingv1.Ingress) bool {
	for _, tls := range old.Spec.TLS {
		if tls.SecretName != "" && len(apimachineryvalidation.NameIsDNSSubdomain(tls.SecretName, false)) > 0 {
			return true
		}
	}
	return false
}

// hasInvalidWildcardRule reports whether a stored ingress holds a rule of
// a wildcard host that current validation refuses.
func hasInvalidWildcardRule(old *networkingv1.Ingress) bool {
	for i := range old.Spec.Rules {
		r := &old.Spec.Rules[i]
		if strings.Contains(r.Host, "*") && len(validateRuleValue(&r.IngressRuleValue, nil)) > 0 {
			return true
		}
	}
	return false
}

// isIP reports whether s parses as an IP address, leading zeros allowed
// as the legacy parser does.
func isIP(s string) bool { return netutils.ParseIPSloppy(s) != nil }

// invalids turns validator messages into Invalid errors at fldPath.
func invalids(fldPath *field.Path, value any, msgs []string) field.ErrorList {
	var allErrs field.ErrorList
	for _, msg := range msgs {
		allErrs = append(allErrs, field.Invalid(fldPath, value, msg))
	}
	return allErrs
}

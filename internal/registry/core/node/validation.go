package node

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	netutils "k8s.io/utils/net"
)

const podCIDRImmutableMsg = `node updates may not change podCIDR except from "" to valid`

// ValidateNode validates a node's metadata, taints, status quantities and
// pod CIDRs. Status fields are optional, but checked when present.
func ValidateNode(n *corev1.Node) field.ErrorList {
	metaPath := field.NewPath("metadata")
	allErrs := apimachineryvalidation.ValidateObjectMeta(&n.ObjectMeta, false, apimachineryvalidation.NameIsDNSSubdomain, metaPath)
	// Upstream reports taints under metadata, not spec; kept for parity.
	allErrs = append(allErrs, validateTaints(n.Spec.Taints, metaPath.Child("taints"))...)
	allErrs = append(allErrs, validateResources(n)...)
	allErrs = append(allErrs, validatePodCIDRs(n.Spec.PodCIDRs, field.NewPath("spec", "podCIDRs"))...)
	return allErrs
}

// ValidateNodeUpdate validates an update (of the main resource or of
// /status): pod CIDRs and providerID may only be set once, status
// addresses must be unique.
func ValidateNodeUpdate(n, old *corev1.Node) field.ErrorList {
	metaPath := field.NewPath("metadata")
	allErrs := apimachineryvalidation.ValidateObjectMetaUpdate(&n.ObjectMeta, &old.ObjectMeta, metaPath)
	allErrs = append(allErrs, validateResources(n)...)

	seen := map[corev1.NodeAddress]bool{}
	for i, a := range n.Status.Addresses {
		if seen[a] {
			allErrs = append(allErrs, field.Duplicate(field.NewPath("status", "addresses").Index(i), a))
		}
		seen[a] = true
	}
	if len(old.Spec.PodCIDRs) > 0 {
		cidrPath := field.NewPath("spec", "podCIDRs")
		if len(old.Spec.PodCIDRs) != len(n.Spec.PodCIDRs) {
			allErrs = append(allErrs, field.Forbidden(cidrPath, podCIDRImmutableMsg))
		} else {
			for i, v := range old.Spec.PodCIDRs {
				if n.Spec.PodCIDRs[i] != v {
					allErrs = append(allErrs, field.Forbidden(cidrPath, podCIDRImmutableMsg))
				}
			}
		}
	}
	if old.Spec.ProviderID != "" && old.Spec.ProviderID != n.Spec.ProviderID {
		allErrs = append(allErrs, field.Forbidden(field.NewPath("spec", "providerID"), `node updates may not change providerID except from "" to valid`))
	}
	allErrs = append(allErrs, validateTaints(n.Spec.Taints, metaPath.Child("taints"))...)
	if n.Spec.DoNotUseExternalID != old.Spec.DoNotUseExternalID {
		allErrs = append(allErrs, field.Forbidden(field.NewPath("spec", "externalID"), "may not be updated"))
	}
	return allErrs
}

func validatePodCIDRs(cidrs []string, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for i, c := range cidrs {
		allErrs = append(allErrs, validation.IsValidCIDRForLegacyField(fldPath.Index(i), c, false, nil)...)
	}
	if len(cidrs) < 2 {
		return allErrs
	}
	dual, err := netutils.IsDualStackCIDRStrings(cidrs)
	if err != nil {
		allErrs = append(allErrs, field.InternalError(fldPath, fmt.Errorf("invalid PodCIDRs. failed to check with dual stack with error:%v", err)))
	}
	if !dual || len(cidrs) > 2 {
		allErrs = append(allErrs, field.Invalid(fldPath, cidrs, "may specify no more than one CIDR for each IP family"))
	}
	seen := sets.New[string]()
	for i, c := range cidrs {
		if seen.Has(c) {
			allErrs = append(allErrs, field.Duplicate(fldPath.Index(i), c))
		}
		seen.Insert(c)
	}
	return allErrs
}

// validateTaints checks keys, values and effects, and that no two taints
// share a key and effect.
func validateTaints(taints []corev1.Taint, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	seen := map[corev1.TaintEffect]sets.Set[string]{}
	for i, t := range taints {
		idxPath := fldPath.Index(i)
		allErrs = append(allErrs, metav1validation.ValidateLabelName(t.Key, idxPath.Child("key"))...)
		if msgs := validation.IsValidLabelValue(t.Value); len(msgs) > 0 {
			allErrs = append(allErrs, field.Invalid(idxPath.Child("value"), t.Value, strings.Join(msgs, ";")))
		}
		switch t.Effect {
		case corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute:
		case "":
			allErrs = append(allErrs, field.Required(idxPath.Child("effect"), ""))
		default:
			allErrs = append(allErrs, field.NotSupported(idxPath.Child("effect"), t.Effect, []corev1.TaintEffect{
				corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute}))
		}
		if seen[t.Effect].Has(t.Key) {
			dup := field.Duplicate(idxPath, t)
			dup.Detail = "taints must be unique by key and effect pair"
			allErrs = append(allErrs, dup)
			continue
		}
		if seen[t.Effect] == nil {
			seen[t.Effect] = sets.New[string]()
		}
		seen[t.Effect].Insert(t.Key)
	}
	return allErrs
}

// validateResources checks capacity and allocatable quantities: never
// negative, whole numbers for integer resources.
func validateResources(n *corev1.Node) field.ErrorList {
	var allErrs field.ErrorList
	for _, list := range []struct {
		name string
		rl   corev1.ResourceList
	}{{"capacity", n.Status.Capacity}, {"allocatable", n.Status.Allocatable}} {
		for _, name := range slices.Sorted(maps.Keys(list.rl)) {
			q := list.rl[name]
			p := field.NewPath("status", list.name, string(name))
			if q.Cmp(resource.Quantity{}) < 0 {
				allErrs = append(allErrs, field.Invalid(p, q.String(), apimachineryvalidation.IsNegativeErrorMsg))
			}
			if isIntegerResource(name) && q.MilliValue()%1000 != 0 {
				allErrs = append(allErrs, field.Invalid(p, q.String(), "must be an integer"))
			}
		}
	}
	return allErrs
}

// isIntegerResource reports resources counted in whole units: pods and
// extended resources (domain-qualified names outside kubernetes.io).
func isIntegerResource(name corev1.ResourceName) bool {
	s := string(name)
	if s == string(corev1.ResourcePods) {
		return true
	}
	if !strings.Contains(s, "/") || strings.HasPrefix(s, "requests.") {
		return false
	}
	domain := s[:strings.Index(s, "/")]
	return domain != "kubernetes.io" && !strings.HasSuffix(domain, ".kubernetes.io")
}

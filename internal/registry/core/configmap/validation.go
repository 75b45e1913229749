package configmap

import (
	"maps"
	"reflect"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// MaxSize is the limit on the summed size of a configmap's data and
// binaryData values (upstream's MaxSecretSize, 1 MiB).
const MaxSize = 1 << 20

const immutableMsg = "field is immutable when `immutable` is set"

// ValidateConfigMap validates a configmap: metadata, keys (no key in both
// data and binaryData) and the total size.
func ValidateConfigMap(c *corev1.ConfigMap) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMeta(&c.ObjectMeta, true, apimachineryvalidation.NameIsDNSSubdomain, field.NewPath("metadata"))
	dataPath, binPath := field.NewPath("data"), field.NewPath("binaryData")
	total := 0
	for _, key := range slices.Sorted(maps.Keys(c.Data)) {
		for _, msg := range validation.IsConfigMapKey(key) {
			allErrs = append(allErrs, field.Invalid(dataPath.Key(key), key, msg))
		}
		if _, dup := c.BinaryData[key]; dup {
			allErrs = append(allErrs, field.Invalid(dataPath.Key(key), key, "duplicate of key present in binaryData"))
		}
		total += len(c.Data[key])
	}
	for _, key := range slices.Sorted(maps.Keys(c.BinaryData)) {
		for _, msg := range validation.IsConfigMapKey(key) {
			allErrs = append(allErrs, field.Invalid(binPath.Key(key), key, msg))
		}
		total += len(c.BinaryData[key])
	}
	if total > MaxSize {
		// Upstream reports the whole object with an empty path.
		allErrs = append(allErrs, field.TooLong(field.NewPath(""), "", MaxSize))
	}
	return allErrs
}

// ValidateConfigMapUpdate validates an update: an immutable configmap
// keeps its data, binaryData and immutable flag.
func ValidateConfigMapUpdate(c, old *corev1.ConfigMap) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMetaUpdate(&c.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	if old.Immutable != nil && *old.Immutable {
		if c.Immutable == nil || !*c.Immutable {
			allErrs = append(allErrs, field.Forbidden(field.NewPath("immutable"), immutableMsg))
		}
		if !reflect.DeepEqual(c.Data, old.Data) {
			allErrs = append(allErrs, field.Forbidden(field.NewPath("data"), immutableMsg))
		}
		if !reflect.DeepEqual(c.BinaryData, old.BinaryData) {
			allErrs = append(allErrs, field.Forbidden(field.NewPath("binaryData"), immutableMsg))
		}
	}
	return append(allErrs, ValidateConfigMap(c)...)
}

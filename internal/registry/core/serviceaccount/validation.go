package serviceaccount

import (
	corev1 "k8s.io/api/core/v1"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// ValidateServiceAccount validates a service account: only its metadata
// is checked, the name being a DNS subdomain.
func ValidateServiceAccount(sa *corev1.ServiceAccount) field.ErrorList {
	return apimachineryvalidation.ValidateObjectMeta(&sa.ObjectMeta, true, apimachineryvalidation.ValidateServiceAccountName, field.NewPath("metadata"))
}

// ValidateServiceAccountUpdate validates a service account update.
func ValidateServiceAccountUpdate(sa, old *corev1.ServiceAccount) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMetaUpdate(&sa.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	return append(allErrs, ValidateServiceAccount(sa)...)
}

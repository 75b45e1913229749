package csr

import (
	"context"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/svcnet/svcnet/internal/apiserver/authn"
	"github.com/svcnet/svcnet/internal/registry"
)

// Strategy governs creates and updates of the CSR object itself.
type Strategy struct{}

var (
	_ registry.Strategy       = Strategy{}
	_ registry.StatusStrategy = StatusStrategy{}
	_ registry.StatusStrategy = ApprovalStrategy{}
)

// Default does nothing: certificates.k8s.io/v1 has no defaults.
func (Strategy) Default(runtime.Object) {}

// PrepareForCreate records the requesting user in spec and clears status:
// nobody creates a CSR already approved or issued. Without a user in ctx
// (an in-process write) spec is left as sent.
func (Strategy) PrepareForCreate(ctx context.Context, obj runtime.Object) {
	csr := obj.(*certificatesv1.CertificateSigningRequest)
	if u, ok := authn.FromContext(ctx); ok {
		// authn.User carries no uid or extra: the request has none.
		csr.Spec.Username = u.Name
		csr.Spec.UID = ""
		csr.Spec.Groups = append([]string(nil), u.Groups...)
		csr.Spec.Extra = nil
	}
	csr.Status = certificatesv1.CertificateSigningRequestStatus{}
}

// PrepareForUpdate keeps spec and status from old: an update of the object
// changes metadata only.
func (Strategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	csr, oldCSR := obj.(*certificatesv1.CertificateSigningRequest), old.(*certificatesv1.CertificateSigningRequest)
	csr.Spec = oldCSR.Spec
	csr.Status = oldCSR.Status
}

// Validate validates a new CSR.
func (Strategy) Validate(_ context.Context, obj runtime.Object) field.ErrorList {
	return ValidateCSR(obj.(*certificatesv1.CertificateSigningRequest))
}

// ValidateUpdate validates an update of the object.
func (Strategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	return ValidateCSRUpdate(obj.(*certificatesv1.CertificateSigningRequest), old.(*certificatesv1.CertificateSigningRequest))
}

// StatusStrategy governs writes to certificatesigningrequests/status.
type StatusStrategy struct {
	// Now stamps new conditions; nil means time.Now.
	Now func() time.Time
}

// PrepareForUpdate keeps spec, stamps the conditions' times and puts the
// stored Approved and Denied conditions back (adding or removing one is
// refused by ValidateUpdate).
func (s StatusStrategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	csr, oldCSR := obj.(*certificatesv1.CertificateSigningRequest), old.(*certificatesv1.CertificateSigningRequest)
	csr.Spec = oldCSR.Spec
	stampConditions(csr, oldCSR, now(s.Now))
	keepConditions(csr, oldCSR, certificatesv1.CertificateApproved)
	keepConditions(csr, oldCSR, certificatesv1.CertificateDenied)
}

// ValidateUpdate validates a status write.
func (StatusStrategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	return ValidateCSRStatusUpdate(obj.(*certificatesv1.CertificateSigningRequest), old.(*certificatesv1.CertificateSigningRequest))
}

// ApprovalStrategy governs writes to certificatesigningrequests/approval.
type ApprovalStrategy struct {
	// Now stamps new conditions; nil means time.Now.
	Now func() time.Time
}

// PrepareForUpdate keeps everything but status.conditions from old, so an
// approval never changes the issued certificate, and stamps the
// conditions' times.
func (s ApprovalStrategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	csr, oldCSR := obj.(*certificatesv1.CertificateSigningRequest), old.(*certificatesv1.CertificateSigningRequest)
	stampConditions(csr, oldCSR, now(s.Now))
	conditions := csr.Status.Conditions
	csr.Spec = oldCSR.Spec
	csr.Status = oldCSR.Status
	csr.Status.Conditions = conditions
}

// ValidateUpdate validates an approval write.
func (ApprovalStrategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	return ValidateCSRApprovalUpdate(obj.(*certificatesv1.CertificateSigningRequest), old.(*certificatesv1.CertificateSigningRequest))
}

func now(f func() time.Time) metav1.Time {
	if f == nil {
		return metav1.Now()
	}
	return metav1.NewTime(f())
}

// keepConditions puts the stored conditions of type t back in place when
// csr has as many of them as old: a status write may not edit them.
func keepConditions(csr, old *certificatesv1.CertificateSigningRequest, t certificatesv1.RequestConditionType) {
	oldIdx, newIdx := conditionIndices(old, t), conditionIndices(csr, t)
	if len(oldIdx) != len(newIdx) {
		return
	}
	for i, o := range oldIdx {
		csr.Status.Conditions[newIdx[i]] = old.Status.Conditions[o]
	}
}

func conditionIndices(csr *certificatesv1.CertificateSigningRequest, t certificatesv1.RequestConditionType) []int {
	var out []int
	for i, c := range csr.Status.Conditions {
		if c.Type == t {
			out = append(out, i)
		}
	}
	return out
}

// stampConditions sets lastUpdateTime of conditions that have none to now,
// and lastTransitionTime to the stored one of a condition with the same
// type and status, else to now.
func stampConditions(csr, old *certificatesv1.CertificateSigningRequest, now metav1.Time) {
	for i := range csr.Status.Conditions {
		c := &csr.Status.Conditions[i]
		if c.LastUpdateTime.IsZero() {
			c.LastUpdateTime = now
		}
		if !c.LastTransitionTime.IsZero() {
			continue
		}
		c.LastTransitionTime = now
		for _, o := range old.Status.Conditions {
			if o.Type == c.Type && o.Status == c.Status && !o.LastTransitionTime.IsZero() {
				c.LastTransitionTime = o.LastTransitionTime
				break
			}
		}
	}
}

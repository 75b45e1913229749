package csr

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/api/validation/path"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/svcnet/svcnet/internal/api/certificates"
)

// MinExpirationSeconds is the shortest certificate a CSR may ask for: ten
// minutes, twice the signer's back-dating.
const MinExpirationSeconds = 600

// validUsages are the key usages certificates.k8s.io knows.
var validUsages = []string{
	"any", "cert sign", "client auth", "code signing", "content commitment", "crl sign", "data encipherment",
	"decipher only", "digital signature", "email protection", "encipher only", "ipsec end system", "ipsec tunnel",
	"ipsec user", "key agreement", "key encipherment", "microsoft sgc", "netscape sgc", "ocsp signing", "s/mime",
	"server auth", "signing", "timestamping",
}

// options say what one write path may do, and which flaws of an already
// stored object it tolerates (so objects stored before a rule existed can
// still be updated).
type options struct {
	// setApproval allows adding and changing Approved and Denied (/approval).
	setApproval bool
	// setCertificate allows setting status.certificate once (/status).
	setCertificate bool

	bothApprovedAndDenied   bool
	duplicateConditionTypes bool
	emptyConditionType      bool
	unknownUsages           bool
	duplicateUsages         bool
	anyCertificate          bool
}

// tolerated returns the options of a write from old (nil on create) to
// csr: every flaw old already has is let through.
func tolerated(csr, old *certificatesv1.CertificateSigningRequest) options {
	if old == nil {
		return options{}
	}
	return options{
		bothApprovedAndDenied:   certificates.HasCondition(old, certificatesv1.CertificateApproved) && certificates.HasCondition(old, certificatesv1.CertificateDenied),
		duplicateConditionTypes: hasDuplicateConditionTypes(old),
		emptyConditionType:      slices.ContainsFunc(old.Status.Conditions, func(c certificatesv1.CertificateSigningRequestCondition) bool { return c.Type == "" }),
		unknownUsages:           slices.ContainsFunc(old.Spec.Usages, func(u certificatesv1.KeyUsage) bool { return !slices.Contains(validUsages, string(u)) }),
		duplicateUsages:         hasDuplicateUsages(old.Spec.Usages),
		anyCertificate: bytes.Equal(csr.Status.Certificate, old.Status.Certificate) ||
			certificates.CheckCertificates(old.Status.Certificate) != nil,
	}
}

// ValidateCSR validates a new CSR.
func ValidateCSR(csr *certificatesv1.CertificateSigningRequest) field.ErrorList {
	return validate(csr, tolerated(csr, nil))
}

// ValidateCSRUpdate validates an update of the object: spec, Approved,
// Denied and the certificate stay as they are.
func ValidateCSRUpdate(csr, old *certificatesv1.CertificateSigningRequest) field.ErrorList {
	return validateUpdate(csr, old, tolerated(csr, old))
}

// ValidateCSRStatusUpdate validates a /status write: the certificate may
// be set once.
func ValidateCSRStatusUpdate(csr, old *certificatesv1.CertificateSigningRequest) field.ErrorList {
	opts := tolerated(csr, old)
	opts.setCertificate = true
	return validateUpdate(csr, old, opts)
}

// ValidateCSRApprovalUpdate validates an /approval write: Approved or
// Denied may be added.
func ValidateCSRApprovalUpdate(csr, old *certificatesv1.CertificateSigningRequest) field.ErrorList {
	opts := tolerated(csr, old)
	opts.setApproval = true
	return validateUpdate(csr, old, opts)
}

// nameIsValid accepts any name that can be a path segment: upstream does
// not care what CSRs are called.
func nameIsValid(name string, _ bool) []string { return path.IsValidPathSegmentName(name) }

func validate(csr *certificatesv1.CertificateSigningRequest, opts options) field.ErrorList {
	errs := apimachineryvalidation.ValidateObjectMeta(&csr.ObjectMeta, false, nameIsValid, field.NewPath("metadata"))
	spec := field.NewPath("spec")
	if err := checkRequest(csr.Spec.Request); err != nil {
		errs = append(errs, field.Invalid(spec.Child("request"), csr.Spec.Request, err.Error()))
	}
	errs = append(errs, validateUsages(csr.Spec.Usages, spec.Child("usages"), opts)...)
	errs = append(errs, ValidateSignerName(spec.Child("signerName"), csr.Spec.SignerName)...)
	if s := csr.Spec.ExpirationSeconds; s != nil && *s < MinExpirationSeconds {
		errs = append(errs, field.Invalid(spec.Child("expirationSeconds"), *s,
			fmt.Sprintf("may not specify a duration less than %d seconds (10 minutes)", MinExpirationSeconds)))
	}
	errs = append(errs, validateConditions(csr.Status.Conditions, field.NewPath("status", "conditions"), opts)...)
	if !opts.anyCertificate {
		if err := certificates.CheckCertificates(csr.Status.Certificate); err != nil {
			errs = append(errs, field.Invalid(field.NewPath("status", "certificate"), "<certificate data>", err.Error()))
		}
	}
	return errs
}

// checkRequest parses the PEM request and checks its signature: a request
// that is not signed by the key it names is never processed.
func checkRequest(data []byte) error {
	req, err := certificates.ParseRequest(data)
	if err != nil {
		return err
	}
	return req.CheckSignature()
}

func validateUsages(usages []certificatesv1.KeyUsage, p *field.Path, opts options) field.ErrorList {
	var errs field.ErrorList
	if len(usages) == 0 {
		errs = append(errs, field.Required(p, ""))
	}
	seen := map[certificatesv1.KeyUsage]bool{}
	for i, u := range usages {
		if !opts.unknownUsages && !slices.Contains(validUsages, string(u)) {
			errs = append(errs, field.NotSupported(p.Index(i), u, validUsages))
		}
		if !opts.duplicateUsages && seen[u] {
			errs = append(errs, field.Duplicate(p.Index(i), u))
		}
		seen[u] = true
	}
	return errs
}

// ValidateSignerName checks that name is <domain>/<path>: a domain of at
// least two DNS labels, a path of DNS subdomains joined by dots, at most
// 571 characters in all (a domain, a namespace and a resource name).
func ValidateSignerName(p *field.Path, name string) field.ErrorList {
	if name == "" {
		return field.ErrorList{field.Required(p, "")}
	}
	domain, signerPath, ok := strings.Cut(name, "/")
	if !ok || strings.Contains(signerPath, "/") {
		return field.ErrorList{field.Invalid(p, name, "must be a fully qualified domain and path of the form 'example.com/signer-name'")}
	}
	var errs field.ErrorList
	if len(domain) > validation.DNS1123SubdomainMaxLength {
		errs = append(errs, field.TooLong(p, "", validation.DNS1123SubdomainMaxLength))
	}
	labels := strings.Split(domain, ".")
	for _, l := range labels {
		if msgs := validation.IsDNS1123Label(l); len(msgs) > 0 {
			for _, m := range msgs {
				errs = append(errs, field.Invalid(p, domain, fmt.Sprintf("validating label %q: %s", l, m)))
			}
			break // the other labels would only repeat the message
		}
	}
	if len(labels) < 2 {
		errs = append(errs, field.Invalid(p, domain, "should be a domain with at least two segments separated by dots"))
	}
	for _, l := range strings.Split(signerPath, ".") {
		if msgs := validation.IsDNS1123Subdomain(l); len(msgs) > 0 {
			for _, m := range msgs {
				errs = append(errs, field.Invalid(p, signerPath, fmt.Sprintf("validating label %q: %s", l, m)))
			}
			break
		}
	}
	maxLen := validation.DNS1123SubdomainMaxLength + 1 + validation.DNS1123SubdomainMaxLength + 1 + validation.DNS1123LabelMaxLength
	if len(name) > maxLen {
		errs = append(errs, field.TooLong(p, "", maxLen))
	}
	return errs
}

// validateConditions checks types (set, unique), statuses (Approved,
// Denied and Failed only True) and that Approved and Denied exclude each
// other.
func validateConditions(conds []certificatesv1.CertificateSigningRequestCondition, p *field.Path, opts options) field.ErrorList {
	var errs field.ErrorList
	seen := map[certificatesv1.RequestConditionType]bool{}
	for i, c := range conds {
		if !opts.emptyConditionType && c.Type == "" {
			errs = append(errs, field.Required(p.Index(i).Child("type"), ""))
		}
		allowed := []string{string(corev1.ConditionFalse), string(corev1.ConditionTrue), string(corev1.ConditionUnknown)}
		switch c.Type {
		case certificatesv1.CertificateApproved, certificatesv1.CertificateDenied, certificatesv1.CertificateFailed:
			allowed = []string{string(corev1.ConditionTrue)}
		}
		switch {
		case c.Status == "":
			errs = append(errs, field.Required(p.Index(i).Child("status"), ""))
		case !slices.Contains(allowed, string(c.Status)):
			errs = append(errs, field.NotSupported(p.Index(i).Child("status"), c.Status, allowed))
		}
		if !opts.bothApprovedAndDenied {
			if (c.Type == certificatesv1.CertificateApproved && seen[certificatesv1.CertificateDenied]) ||
				(c.Type == certificatesv1.CertificateDenied && seen[certificatesv1.CertificateApproved]) {
				errs = append(errs, field.Invalid(p, c.Type, "Approved and Denied conditions are mutually exclusive"))
			}
		}
		if !opts.duplicateConditionTypes && seen[c.Type] {
			errs = append(errs, field.Duplicate(p.Index(i).Child("type"), c.Type))
		}
		seen[c.Type] = true
	}
	return errs
}

func validateUpdate(csr, old *certificatesv1.CertificateSigningRequest, opts options) field.ErrorList {
	errs := validate(csr, opts)
	if !apiequality.Semantic.DeepEqual(csr.Spec, old.Spec) {
		// The strategies keep the stored spec; this guards the rule itself.
		errs = append(errs, field.Forbidden(field.NewPath("spec"), apimachineryvalidation.FieldImmutableErrorMsg))
	}
	conds := field.NewPath("status", "conditions")
	for _, t := range []certificatesv1.RequestConditionType{certificatesv1.CertificateApproved, certificatesv1.CertificateDenied, certificatesv1.CertificateFailed} {
		if len(conditionsOf(csr, t)) < len(conditionsOf(old, t)) {
			errs = append(errs, field.Forbidden(conds, fmt.Sprintf("updates may not remove a condition of type %q", t)))
		}
	}
	if !opts.setApproval {
		for _, t := range []certificatesv1.RequestConditionType{certificatesv1.CertificateApproved, certificatesv1.CertificateDenied} {
			got, had := conditionsOf(csr, t), conditionsOf(old, t)
			switch {
			case len(got) < len(had): // refused above
			case len(got) > len(had):
				errs = append(errs, field.Forbidden(conds, fmt.Sprintf("updates may not add a condition of type %q", t)))
			case !apiequality.Semantic.DeepEqual(got, had):
				errs = append(errs, field.Forbidden(conds, fmt.Sprintf("updates may not modify a condition of type %q", t)))
			}
		}
	}
	if !bytes.Equal(csr.Status.Certificate, old.Status.Certificate) {
		switch {
		case !opts.setCertificate:
			errs = append(errs, field.Forbidden(field.NewPath("status", "certificate"), "updates may not set certificate content"))
		case len(old.Status.Certificate) > 0:
			errs = append(errs, field.Forbidden(field.NewPath("status", "certificate"), "updates may not modify existing certificate content"))
		}
	}
	return append(errs, apimachineryvalidation.ValidateObjectMetaUpdate(&csr.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))...)
}

func conditionsOf(csr *certificatesv1.CertificateSigningRequest, t certificatesv1.RequestConditionType) []certificatesv1.CertificateSigningRequestCondition {
	var out []certificatesv1.CertificateSigningRequestCondition
	for _, c := range csr.Status.Conditions {
		if c.Type == t {
			out = append(out, c)
		}
	}
	return out
}

func hasDuplicateConditionTypes(csr *certificatesv1.CertificateSigningRequest) bool {
	seen := map[certificatesv1.RequestConditionType]bool{}
	for _, c := range csr.Status.Conditions {
		if seen[c.Type] {
			return true
		}
		seen[c.Type] = true
	}
	return false
}

func hasDuplicateUsages(usages []certificatesv1.KeyUsage) bool {
	seen := map[certificatesv1.KeyUsage]bool{}
	for _, u := range usages {
		if seen[u] {
			return true
		}
		seen[u] = true
	}
	return false
}

package certificates

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"strings"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
)

// Node identities, as the Node authorizer and the kubelet name them.
const (
	// NodeUserPrefix starts the user name (and the certificate's common
	// name) of a node: system:node:<node name>.
	NodeUserPrefix = "system:node:"
	// NodesGroup is the group (certificate organization) of every node.
	NodesGroup = "system:nodes"
)

// Block types of PEM requests and certificates.
const (
	requestBlockType     = "CERTIFICATE REQUEST"
	certificateBlockType = "CERTIFICATE"
)

// Errors of the signer rules. Their text is upstream's, and ends up in
// the message of a Failed condition.
var (
	ErrOrganizationNotNodes = errors.New("subject organization is not system:nodes")
	ErrCommonNameNotNode    = errors.New("subject common name does not begin with system:node:")
	ErrNoDNSOrIPSAN         = errors.New("DNS or IP subjectAltName is required")
	ErrDNSSAN               = errors.New("DNS subjectAltNames are not allowed")
	ErrEmailSAN             = errors.New("Email subjectAltNames are not allowed") //nolint:staticcheck // upstream's text
	ErrIPSAN                = errors.New("IP subjectAltNames are not allowed")
	ErrURISAN               = errors.New("URI subjectAltNames are not allowed")
)

// ParseRequest decodes the first PEM block of data, which must be a
// CERTIFICATE REQUEST, into a PKCS#10 request. It does not check the
// request's signature.
func ParseRequest(data []byte) (*x509.CertificateRequest, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != requestBlockType {
		return nil, errors.New("PEM block type must be CERTIFICATE REQUEST")
	}
	return x509.ParseCertificateRequest(block.Bytes)
}

// CheckCertificates checks that data is one or more PEM CERTIFICATE
// blocks without headers, each holding certificates that parse. Empty data
// is accepted: no certificate issued yet.
func CheckCertificates(data []byte) error {
	if len(data) == 0 {
		return nil
	}
	blocks := 0
	for {
		block, rest := pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != certificateBlockType {
			return fmt.Errorf("only CERTIFICATE PEM blocks are allowed, found %q", block.Type)
		}
		if len(block.Headers) != 0 {
			return errors.New("no PEM block headers are permitted")
		}
		certs, err := x509.ParseCertificates(block.Bytes)
		if err != nil {
			return err
		}
		if len(certs) == 0 {
			return errors.New("found CERTIFICATE PEM block containing 0 certificates")
		}
		blocks++
		data = rest
	}
	if blocks == 0 {
		return errors.New("must contain at least one CERTIFICATE PEM block")
	}
	return nil
}

// HasCondition reports whether csr has a condition of type t with status
// True (or empty, which older clients wrote for Approved and Denied).
func HasCondition(csr *certificatesv1.CertificateSigningRequest, t certificatesv1.RequestConditionType) bool {
	return slices.ContainsFunc(csr.Status.Conditions, func(c certificatesv1.CertificateSigningRequestCondition) bool {
		return c.Type == t && (c.Status == corev1.ConditionTrue || c.Status == "")
	})
}

// IsApproved reports whether csr is Approved and not Denied.
func IsApproved(csr *certificatesv1.CertificateSigningRequest) bool {
	return HasCondition(csr, certificatesv1.CertificateApproved) && !HasCondition(csr, certificatesv1.CertificateDenied)
}

// NodeName returns <name> of a node's user name or common name
// system:node:<name>.
func NodeName(user string) (string, bool) {
	name, ok := strings.CutPrefix(user, NodeUserPrefix)
	if !ok || name == "" {
		return "", false
	}
	return name, true
}

// usageSet is a set of key usages, compared as sets.
type usageSet map[certificatesv1.KeyUsage]bool

func newUsageSet(usages ...certificatesv1.KeyUsage) usageSet {
	s := usageSet{}
	for _, u := range usages {
		s[u] = true
	}
	return s
}

func (s usageSet) equal(o usageSet) bool {
	if len(s) != len(o) {
		return false
	}
	for u := range s {
		if !o[u] {
			return false
		}
	}
	return true
}

// The usage sets a kubelet asks for: key encipherment comes with RSA keys
// only, so both sets are accepted.
var (
	kubeletClientUsages = []usageSet{
		newUsageSet(certificatesv1.UsageDigitalSignature, certificatesv1.UsageKeyEncipherment, certificatesv1.UsageClientAuth),
		newUsageSet(certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth),
	}
	kubeletServingUsages = []usageSet{
		newUsageSet(certificatesv1.UsageDigitalSignature, certificatesv1.UsageKeyEncipherment, certificatesv1.UsageServerAuth),
		newUsageSet(certificatesv1.UsageDigitalSignature, certificatesv1.UsageServerAuth),
	}
)

func usagesMatch(usages []certificatesv1.KeyUsage, allowed []usageSet) bool {
	got := newUsageSet(usages...)
	return slices.ContainsFunc(allowed, got.equal)
}

// isNodesOnly reports whether the organization is exactly [system:nodes].
func isNodesOnly(req *x509.CertificateRequest) bool {
	return slices.Equal(req.Subject.Organization, []string{NodesGroup})
}

// ValidateKubeletClient checks the rules of the
// kubernetes.io/kube-apiserver-client-kubelet signer: organization exactly
// system:nodes, common name system:node:<name>, no subject alternative
// names, usages digital signature and client auth (plus key encipherment).
func ValidateKubeletClient(req *x509.CertificateRequest, usages []certificatesv1.KeyUsage) error {
	switch {
	case !isNodesOnly(req):
		return ErrOrganizationNotNodes
	case len(req.DNSNames) > 0:
		return ErrDNSSAN
	case len(req.EmailAddresses) > 0:
		return ErrEmailSAN
	case len(req.IPAddresses) > 0:
		return ErrIPSAN
	case len(req.URIs) > 0:
		return ErrURISAN
	case !strings.HasPrefix(req.Subject.CommonName, NodeUserPrefix):
		return ErrCommonNameNotNode
	case !usagesMatch(usages, kubeletClientUsages):
		return fmt.Errorf("usages did not match %v", sortedUsages(kubeletClientUsages[0]))
	}
	return nil
}

// ValidateKubeletServing checks the rules of the kubernetes.io/kubelet-serving
// signer: organization exactly system:nodes, at least one DNS or IP
// subject alternative name and no email or URI one, usages digital
// signature and server auth (plus key encipherment), common name
// system:node:<name>.
func ValidateKubeletServing(req *x509.CertificateRequest, usages []certificatesv1.KeyUsage) error {
	switch {
	case !isNodesOnly(req):
		return ErrOrganizationNotNodes
	case len(req.DNSNames) == 0 && len(req.IPAddresses) == 0:
		return ErrNoDNSOrIPSAN
	case len(req.EmailAddresses) > 0:
		return ErrEmailSAN
	case len(req.URIs) > 0:
		return ErrURISAN
	case !usagesMatch(usages, kubeletServingUsages):
		return fmt.Errorf("usages did not match %v", sortedUsages(kubeletServingUsages[0]))
	case !strings.HasPrefix(req.Subject.CommonName, NodeUserPrefix):
		return ErrCommonNameNotNode
	}
	return nil
}

// ValidateAPIServerClient checks the rules of the
// kubernetes.io/kube-apiserver-client signer: any subject, usages client
// auth and optionally digital signature and key encipherment.
func ValidateAPIServerClient(_ *x509.CertificateRequest, usages []certificatesv1.KeyUsage) error {
	clientAuth := false
	for _, u := range usages {
		switch u {
		case certificatesv1.UsageDigitalSignature, certificatesv1.UsageKeyEncipherment:
		case certificatesv1.UsageClientAuth:
			clientAuth = true
		default:
			return fmt.Errorf("invalid usage for client certificate: %s", u)
		}
	}
	if !clientAuth {
		return fmt.Errorf("missing required usage for client certificate: %s", certificatesv1.UsageClientAuth)
	}
	return nil
}

func sortedUsages(s usageSet) []string {
	out := make([]string, 0, len(s))
	for u := range s {
		out = append(out, string(u))
	}
	slices.Sort(out)
	return out
}

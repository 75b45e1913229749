package csrsigning

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
)

// Signing policy, as kube-controller-manager's.
const (
	// DefaultDuration is the longest certificate issued by default
	// (--cluster-signing-duration).
	DefaultDuration = 365 * 24 * time.Hour
	// backdate moves NotBefore into the past so peers with slow clocks
	// accept a fresh certificate. It must stay below the shortest
	// duration a CSR may ask for.
	backdate = 5 * time.Minute
	// short is the lifetime under which NotAfter is not back-dated too:
	// five minutes would be too large a share of it.
	short = 8 * time.Hour
	// minDuration is the shortest certificate issued, twice backdate.
	minDuration = 10 * time.Minute
)

// ErrCAExpired means the CA can no longer issue certificates.
var ErrCAExpired = errors.New("the signer has expired")

// CA is the authority that signs: a CA certificate and its private key
// (pki.PKI.CA).
type CA struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

// duration is how long a certificate asked for expirationSeconds lives:
// the requested time bounded by [minDuration, max], else max.
func duration(expirationSeconds *int32, maxDuration time.Duration) time.Duration {
	if expirationSeconds == nil {
		return maxDuration
	}
	d := time.Duration(*expirationSeconds) * time.Second
	return min(max(d, minDuration), maxDuration)
}

// sign issues the certificate of req with usages, valid for ttl from now
// (back-dated), never past the CA's own NotAfter. It returns PEM.
func (ca CA) sign(req *x509.CertificateRequest, usages []certificatesv1.KeyUsage, ttl time.Duration, now time.Time) ([]byte, error) {
	if err := req.CheckSignature(); err != nil {
		return nil, fmt.Errorf("request signature: %w", err)
	}
	keyUsage, extUsages, err := keyUsages(usages)
	if err != nil {
		return nil, err
	}
	notAfter := now.Add(ttl)
	if ttl >= short {
		notAfter = notAfter.Add(-backdate)
	}
	caEnd := ca.Cert.NotAfter
	if !notAfter.Before(caEnd) {
		notAfter = caEnd
	}
	notBefore := now.Add(-backdate)
	if !now.Before(caEnd) || !notBefore.Before(caEnd) {
		return nil, fmt.Errorf("%w: NotAfter=%v", ErrCAExpired, caEnd)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, fmt.Errorf("serial number: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               req.Subject,
		DNSNames:              req.DNSNames,
		IPAddresses:           req.IPAddresses,
		EmailAddresses:        req.EmailAddresses,
		URIs:                  req.URIs,
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              keyUsage,
		ExtKeyUsage:           extUsages,
		BasicConstraintsValid: true,
		IsCA:                  false,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, req.PublicKey, ca.Key)
	if err != nil {
		return nil, fmt.Errorf("sign %q: %w", req.Subject.CommonName, err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}

// keyUsagesOf maps the API's key usages to X.509 key usage bits.
var keyUsagesOf = map[certificatesv1.KeyUsage]x509.KeyUsage{
	certificatesv1.UsageSigning:           x509.KeyUsageDigitalSignature,
	certificatesv1.UsageDigitalSignature:  x509.KeyUsageDigitalSignature,
	certificatesv1.UsageContentCommitment: x509.KeyUsageContentCommitment,
	certificatesv1.UsageKeyEncipherment:   x509.KeyUsageKeyEncipherment,
	certificatesv1.UsageKeyAgreement:      x509.KeyUsageKeyAgreement,
	certificatesv1.UsageDataEncipherment:  x509.KeyUsageDataEncipherment,
	certificatesv1.UsageCertSign:          x509.KeyUsageCertSign,
	certificatesv1.UsageCRLSign:           x509.KeyUsageCRLSign,
	certificatesv1.UsageEncipherOnly:      x509.KeyUsageEncipherOnly,
	certificatesv1.UsageDecipherOnly:      x509.KeyUsageDecipherOnly,
}

// extKeyUsagesOf maps the API's key usages to X.509 extended key usages.
var extKeyUsagesOf = map[certificatesv1.KeyUsage]x509.ExtKeyUsage{
	certificatesv1.UsageAny:             x509.ExtKeyUsageAny,
	certificatesv1.UsageServerAuth:      x509.ExtKeyUsageServerAuth,
	certificatesv1.UsageClientAuth:      x509.ExtKeyUsageClientAuth,
	certificatesv1.UsageCodeSigning:     x509.ExtKeyUsageCodeSigning,
	certificatesv1.UsageEmailProtection: x509.ExtKeyUsageEmailProtection,
	certificatesv1.UsageSMIME:           x509.ExtKeyUsageEmailProtection,
	certificatesv1.UsageIPsecEndSystem:  x509.ExtKeyUsageIPSECEndSystem,
	certificatesv1.UsageIPsecTunnel:     x509.ExtKeyUsageIPSECTunnel,
	certificatesv1.UsageIPsecUser:       x509.ExtKeyUsageIPSECUser,
	certificatesv1.UsageTimestamping:    x509.ExtKeyUsageTimeStamping,
	certificatesv1.UsageOCSPSigning:     x509.ExtKeyUsageOCSPSigning,
	certificatesv1.UsageMicrosoftSGC:    x509.ExtKeyUsageMicrosoftServerGatedCrypto,
	certificatesv1.UsageNetscapeSGC:     x509.ExtKeyUsageNetscapeServerGatedCrypto,
}

// keyUsages converts usages into key usage bits and sorted, distinct
// extended key usages.
func keyUsages(usages []certificatesv1.KeyUsage) (x509.KeyUsage, []x509.ExtKeyUsage, error) {
	var (
		bits    x509.KeyUsage
		ext     []x509.ExtKeyUsage
		unknown []certificatesv1.KeyUsage
	)
	for _, u := range usages {
		if b, ok := keyUsagesOf[u]; ok {
			bits |= b
		} else if e, ok := extKeyUsagesOf[u]; ok {
			ext = append(ext, e)
		} else {
			unknown = append(unknown, u)
		}
	}
	if len(unknown) > 0 {
		return 0, nil, fmt.Errorf("unrecognized usage values: %q", unknown)
	}
	slices.Sort(ext)
	return bits, slices.Compact(ext), nil
}

package printers

import (
	"context"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"

	"github.com/svcnet/svcnet/internal/registry"
)

// CertificateSigningRequests prints CSRs: NAME AGE SIGNERNAME REQUESTOR
// REQUESTEDDURATION CONDITION.
func (p *Printer) CertificateSigningRequests(_ context.Context, obj runtime.Object, opts registry.TableOptions) (*metav1.Table, error) {
	spec := certificatesv1.CertificateSigningRequestSpec{}.SwaggerDoc()
	columns := []metav1.TableColumnDefinition{
		nameColumn(),
		ageColumn(),
		{Name: "SignerName", Type: "string", Description: spec["signerName"]},
		{Name: "Requestor", Type: "string", Description: spec["request"]},
		{Name: "RequestedDuration", Type: "string", Description: spec["expirationSeconds"]},
		{Name: "Condition", Type: "string", Description: certificatesv1.CertificateSigningRequestStatus{}.SwaggerDoc()["conditions"]},
	}
	return build(p, columns, obj, opts, func(now time.Time, c *certificatesv1.CertificateSigningRequest, row *metav1.TableRow) error {
		signer := c.Spec.SignerName
		if signer == "" {
			signer = "<none>"
		}
		requested := "<none>"
		if s := c.Spec.ExpirationSeconds; s != nil {
			requested = duration.HumanDuration(time.Duration(*s) * time.Second)
		}
		row.Cells = append(row.Cells, c.Name, since(now, c.CreationTimestamp), signer, c.Spec.Username, requested, csrCondition(c))
		return nil
	})
}

// csrCondition is Denied, Approved or Pending, then ",Failed" and
// ",Issued" when they apply.
func csrCondition(c *certificatesv1.CertificateSigningRequest) string {
	var approved, denied, failed bool
	for _, cond := range c.Status.Conditions {
		switch cond.Type {
		case certificatesv1.CertificateApproved:
			approved = true
		case certificatesv1.CertificateDenied:
			denied = true
		case certificatesv1.CertificateFailed:
			failed = true
		}
	}
	s := "Pending"
	switch {
	case denied:
		s = "Denied"
	case approved:
		s = "Approved"
	}
	if failed {
		s += ",Failed"
	}
	if len(c.Status.Certificate) > 0 {
		s += ",Issued"
	}
	return s
}

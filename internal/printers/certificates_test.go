package printers

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestCertificateSigningRequests(t *testing.T) {
	conds := func(types ...certificatesv1.RequestConditionType) []certificatesv1.CertificateSigningRequestCondition {
		var out []certificatesv1.CertificateSigningRequestCondition
		for _, ty := range types {
			out = append(out, certificatesv1.CertificateSigningRequestCondition{Type: ty, Status: "True"})
		}
		return out
	}
	day := int32(86400)
	for _, tc := range []struct {
		name string
		csr  certificatesv1.CertificateSigningRequest
		want []any
	}{
		{
			name: "pending",
			csr:  certificatesv1.CertificateSigningRequest{Spec: certificatesv1.CertificateSigningRequestSpec{SignerName: "kubernetes.io/kubelet-serving", Username: "system:node:n1"}},
			want: []any{"csr-1", "5m", "kubernetes.io/kubelet-serving", "system:node:n1", "<none>", "Pending"},
		},
		{
			name: "approved and issued",
			csr: certificatesv1.CertificateSigningRequest{
				Spec:   certificatesv1.CertificateSigningRequestSpec{SignerName: "kubernetes.io/kube-apiserver-client", Username: "admin", ExpirationSeconds: &day},
				Status: certificatesv1.CertificateSigningRequestStatus{Conditions: conds(certificatesv1.CertificateApproved), Certificate: []byte("x")},
			},
			want: []any{"csr-1", "5m", "kubernetes.io/kube-apiserver-client", "admin", "24h", "Approved,Issued"},
		},
		{
			name: "denied wins, failed added",
			csr: certificatesv1.CertificateSigningRequest{
				Status: certificatesv1.CertificateSigningRequestStatus{Conditions: conds(certificatesv1.CertificateApproved, certificatesv1.CertificateDenied, certificatesv1.CertificateFailed)},
			},
			want: []any{"csr-1", "5m", "<none>", "", "<none>", "Denied,Failed"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.csr
			c.ObjectMeta = metav1.ObjectMeta{Name: "csr-1", CreationTimestamp: ago(5 * time.Minute)}
			if diff := cmp.Diff(tc.want, rowOf(t, testPrinter().CertificateSigningRequests, &c)); diff != "" {
				t.Errorf("cells (-want +got):\n%s", diff)
			}
		})
	}
}

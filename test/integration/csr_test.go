package integration

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/svcnet/svcnet/internal/pki"
	"github.com/svcnet/svcnet/test/integration/framework"
	"github.com/svcnet/svcnet/test/kubectl"
)

// TestCertificateSigningRequests creates a user's client CSR as the admin,
// approves it with `kubectl certificate approve` (through the API when
// there is no kubectl) and checks the certificate the server's signer
// issues with the cluster CA.
func TestCertificateSigningRequests(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ts := framework.Start(t, framework.Options{})
	csrs := ts.Client.CertificatesV1().CertificateSigningRequests()
	list, err := ts.Client.Discovery().ServerResourcesForGroupVersion("certificates.k8s.io/v1")
	if err != nil {
		t.Fatal(err)
	}
	var served []string
	for _, r := range list.APIResources {
		served = append(served, r.Name+" "+strings.Join(r.ShortNames, ","))
	}
	if want := []string{"certificatesigningrequests csr", "certificatesigningrequests/approval ", "certificatesigningrequests/status "}; !slices.Equal(served, want) {
		t.Errorf("discovery of certificates.k8s.io/v1: got %q, want %q", served, want)
	}

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: "jane", Organization: []string{"dev"}}}, key)
	if err != nil {
		t.Fatal(err)
	}
	hour := int32(3600)
	created, err := csrs.Create(ctx, &certificatesv1.CertificateSigningRequest{
		ObjectMeta: metav1.ObjectMeta{Name: "node-csr-n1"},
		Spec: certificatesv1.CertificateSigningRequestSpec{
			Request: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}),
			// A user's certificate: node client CSRs of the admin are
			// approved by the server at once.
			SignerName:        certificatesv1.KubeAPIServerClientSignerName,
			Usages:            []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth},
			ExpirationSeconds: &hour,
			Username:          "someone-else",
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if created.Spec.Username != pki.AdminUser || !slices.Contains(created.Spec.Groups, pki.AdminGroup) {
		t.Errorf("got requestor %q %v, want the admin %q in %q", created.Spec.Username, created.Spec.Groups, pki.AdminUser, pki.AdminGroup)
	}

	// Upstream's validation: a request that does not parse is refused.
	_, err = csrs.Create(ctx, &certificatesv1.CertificateSigningRequest{ObjectMeta: metav1.ObjectMeta{Name: "bad"},
		Spec: certificatesv1.CertificateSigningRequestSpec{Request: []byte("garbage"), SignerName: certificatesv1.KubeAPIServerClientSignerName,
			Usages: []certificatesv1.KeyUsage{certificatesv1.UsageClientAuth}}}, metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.request") {
		t.Errorf("creating a CSR with a garbage request: got %v, want 422 on spec.request", err)
	}
	// The status path may not approve.
	upd := created.DeepCopy()
	upd.Status.Conditions = []certificatesv1.CertificateSigningRequestCondition{{Type: certificatesv1.CertificateApproved, Status: corev1.ConditionTrue}}
	if _, err := csrs.UpdateStatus(ctx, upd, metav1.UpdateOptions{}); !apierrors.IsInvalid(err) {
		t.Errorf("approving through /status: got %v, want 422", err)
	}

	haveKubectl := false
	if _, err := kubectl.Path(); err == nil {
		haveKubectl = true
		if out := ts.MustKubectl(t, "", "", "get", "csr"); !strings.Contains(out, "SIGNERNAME") || !strings.Contains(out, "REQUESTEDDURATION") ||
			!strings.Contains(out, "node-csr-n1") || !strings.Contains(out, "Pending") {
			t.Errorf("kubectl get csr:\n%s", out)
		}
		if out := ts.MustKubectl(t, "", "", "certificate", "approve", "node-csr-n1"); !strings.Contains(out, "approved") {
			t.Errorf("kubectl certificate approve: %s", out)
		}
	} else {
		t.Logf("approving through the API: %v", err)
		upd, err := csrs.Get(ctx, "node-csr-n1", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		upd.Status.Conditions = append(upd.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{
			Type: certificatesv1.CertificateApproved, Status: corev1.ConditionTrue, Reason: "KubectlApprove", Message: "approved by the test"})
		if _, err := csrs.UpdateApproval(ctx, upd.Name, upd, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	approved, err := csrs.Get(ctx, "node-csr-n1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(approved.Status.Conditions) != 1 || approved.Status.Conditions[0].Type != certificatesv1.CertificateApproved ||
		approved.Status.Conditions[0].LastTransitionTime.IsZero() {
		t.Fatalf("after approval: conditions %+v, want one stamped Approved", approved.Status.Conditions)
	}
	// Approved and Denied exclude each other.
	denied := approved.DeepCopy()
	denied.Status.Conditions = append(denied.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{
		Type: certificatesv1.CertificateDenied, Status: corev1.ConditionTrue})
	if _, err := csrs.UpdateApproval(ctx, denied.Name, denied, metav1.UpdateOptions{}); !apierrors.IsInvalid(err) {
		t.Errorf("denying an approved CSR: got %v, want 422", err)
	}

	// The server's signer issues it with the cluster CA.
	ca, err := tls.LoadX509KeyPair(filepath.Join(ts.DataDir, "pki", "ca.crt"), filepath.Join(ts.DataDir, "pki", "ca.key"))
	if err != nil {
		t.Fatal(err)
	}
	var issued []byte
	framework.Eventually(t, 30*time.Second, func() error {
		got, err := csrs.Get(ctx, "node-csr-n1", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if len(got.Status.Certificate) == 0 {
			return errors.New("no certificate yet")
		}
		issued = got.Status.Certificate
		return nil
	})
	block, _ := pem.Decode(issued)
	if block == nil {
		t.Fatalf("status.certificate %q is not PEM", issued)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.Leaf)
	if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("issued certificate does not verify against the cluster CA: %v", err)
	}
	if cert.Subject.CommonName != "jane" || !slices.Equal(cert.Subject.Organization, []string{"dev"}) ||
		cert.NotAfter.Sub(cert.NotBefore) != time.Hour+5*time.Minute {
		t.Errorf("issued %v valid %v - %v, want jane/dev for an hour (back-dated 5m)", cert.Subject, cert.NotBefore, cert.NotAfter)
	}
	if haveKubectl {
		if out := ts.MustKubectl(t, "", "", "get", "csr", "node-csr-n1"); !strings.Contains(out, "Approved,Issued") {
			t.Errorf("kubectl get csr after signing:\n%s", out)
		}
	}
}

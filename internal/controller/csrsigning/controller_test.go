package csrsigning

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"

	"github.com/svcnet/svcnet/internal/api/certificates"
	"github.com/svcnet/svcnet/internal/controller/controllertest"
)

// now is the fake clock of every test.
var now = time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)

func newCA(t *testing.T, notAfter time.Time) CA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test-ca"},
		NotBefore: now.Add(-24 * time.Hour), NotAfter: notAfter, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return CA{Cert: cert, Key: key}
}

func newRequest(t *testing.T, tmpl x509.CertificateRequest) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &tmpl, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

func conditions(types ...certificatesv1.RequestConditionType) []certificatesv1.CertificateSigningRequestCondition {
	var out []certificatesv1.CertificateSigningRequestCondition
	for _, ty := range types {
		out = append(out, certificatesv1.CertificateSigningRequestCondition{Type: ty, Status: corev1.ConditionTrue})
	}
	return out
}

// fixture runs the controller's informers over a fake client; tests call
// sync themselves.
type fixture struct {
	client kubernetes.Interface
	c      *Controller
}

func newFixture(t *testing.T, cfg Config, csr *certificatesv1.CertificateSigningRequest) *fixture {
	t.Helper()
	client := controllertest.NewClient(csr)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	factory := informers.NewSharedInformerFactory(client, 0)
	cfg.Client, cfg.Informers, cfg.Now = client, factory, func() time.Time { return now }
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	factory.Start(ctx.Done())
	factory.WaitForCacheSync(ctx.Done())
	return &fixture{client: client, c: c}
}

func (f *fixture) get(t *testing.T, name string) *certificatesv1.CertificateSigningRequest {
	t.Helper()
	csr, err := f.client.CertificatesV1().CertificateSigningRequests().Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return csr
}

func TestSigning(t *testing.T) {
	node := pkix.Name{CommonName: "system:node:n1", Organization: []string{certificates.NodesGroup}}
	clientUsages := []certificatesv1.KeyUsage{"digital signature", "client auth"}
	servingUsages := []certificatesv1.KeyUsage{"key encipherment", "digital signature", "server auth"}
	hour, twoDays := int32(3600), int32(2*86400)
	yearCA := now.Add(10 * 365 * 24 * time.Hour)
	type want struct {
		failed    string // message of the Failed condition
		notAfter  time.Time
		extUsage  x509.ExtKeyUsage
		keyUsage  x509.KeyUsage
		untouched bool
	}
	for _, tc := range []struct {
		name       string
		signer     string
		subject    x509.CertificateRequest
		usages     []certificatesv1.KeyUsage
		expiration *int32
		conditions []certificatesv1.CertificateSigningRequestCondition
		caNotAfter time.Time
		duration   time.Duration
		want       want
	}{
		{
			name: "kubelet client", signer: certificatesv1.KubeAPIServerClientKubeletSignerName,
			subject: x509.CertificateRequest{Subject: node}, usages: clientUsages,
			want: want{notAfter: now.Add(DefaultDuration - backdate), extUsage: x509.ExtKeyUsageClientAuth, keyUsage: x509.KeyUsageDigitalSignature},
		},
		{
			name: "kubelet client with another organization", signer: certificatesv1.KubeAPIServerClientKubeletSignerName,
			subject: x509.CertificateRequest{Subject: pkix.Name{CommonName: "system:node:n1", Organization: []string{"system:masters"}}},
			usages:  clientUsages, want: want{failed: "subject organization is not system:nodes"},
		},
		{
			name: "kubelet client with a DNS name", signer: certificatesv1.KubeAPIServerClientKubeletSignerName,
			subject: x509.CertificateRequest{Subject: node, DNSNames: []string{"n1"}}, usages: clientUsages,
			want: want{failed: "DNS subjectAltNames are not allowed"},
		},
		{
			name: "kubelet serving for an hour", signer: certificatesv1.KubeletServingSignerName,
			subject: x509.CertificateRequest{Subject: node, DNSNames: []string{"n1"}, IPAddresses: []net.IP{net.ParseIP("192.0.2.10")}},
			usages:  servingUsages, expiration: &hour,
			want: want{notAfter: now.Add(time.Hour), extUsage: x509.ExtKeyUsageServerAuth,
				keyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment},
		},
		{
			name: "kubelet serving without names", signer: certificatesv1.KubeletServingSignerName,
			subject: x509.CertificateRequest{Subject: node}, usages: servingUsages,
			want: want{failed: "DNS or IP subjectAltName is required"},
		},
		{
			name: "API client for two days", signer: certificatesv1.KubeAPIServerClientSignerName,
			subject: x509.CertificateRequest{Subject: pkix.Name{CommonName: "alice", Organization: []string{"dev"}}},
			usages:  []certificatesv1.KeyUsage{"client auth"}, expiration: &twoDays,
			want: want{notAfter: now.Add(48*time.Hour - backdate), extUsage: x509.ExtKeyUsageClientAuth},
		},
		{
			name: "API client with server auth", signer: certificatesv1.KubeAPIServerClientSignerName,
			subject: x509.CertificateRequest{Subject: pkix.Name{CommonName: "alice"}},
			usages:  []certificatesv1.KeyUsage{"client auth", "server auth"},
			want:    want{failed: "invalid usage for client certificate: server auth"},
		},
		{
			name: "bounded by Duration", signer: certificatesv1.KubeAPIServerClientSignerName, duration: 30 * time.Minute,
			subject: x509.CertificateRequest{Subject: pkix.Name{CommonName: "alice"}}, usages: []certificatesv1.KeyUsage{"client auth"},
			expiration: &hour, want: want{notAfter: now.Add(30 * time.Minute), extUsage: x509.ExtKeyUsageClientAuth},
		},
		{
			name: "bounded by the CA", signer: certificatesv1.KubeAPIServerClientKubeletSignerName, caNotAfter: now.Add(24 * time.Hour),
			subject: x509.CertificateRequest{Subject: node}, usages: clientUsages,
			want: want{notAfter: now.Add(24 * time.Hour), extUsage: x509.ExtKeyUsageClientAuth, keyUsage: x509.KeyUsageDigitalSignature},
		},
		{
			name: "another signer", signer: "example.com/signer",
			subject: x509.CertificateRequest{Subject: node}, usages: clientUsages, want: want{untouched: true},
		},
		{
			name: "pending", signer: certificatesv1.KubeAPIServerClientKubeletSignerName, conditions: []certificatesv1.CertificateSigningRequestCondition{},
			subject: x509.CertificateRequest{Subject: node}, usages: clientUsages, want: want{untouched: true},
		},
		{
			name: "denied", signer: certificatesv1.KubeAPIServerClientKubeletSignerName, conditions: conditions(certificatesv1.CertificateDenied),
			subject: x509.CertificateRequest{Subject: node}, usages: clientUsages, want: want{untouched: true},
		},
		{
			name: "failed", signer: certificatesv1.KubeAPIServerClientKubeletSignerName,
			conditions: conditions(certificatesv1.CertificateApproved, certificatesv1.CertificateFailed),
			subject:    x509.CertificateRequest{Subject: node}, usages: clientUsages, want: want{untouched: true},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			caEnd := tc.caNotAfter
			if caEnd.IsZero() {
				caEnd = yearCA
			}
			ca := newCA(t, caEnd)
			conds := tc.conditions
			if conds == nil {
				conds = conditions(certificatesv1.CertificateApproved)
			}
			csr := &certificatesv1.CertificateSigningRequest{
				ObjectMeta: metav1.ObjectMeta{Name: "csr-1"},
				Spec: certificatesv1.CertificateSigningRequestSpec{Request: newRequest(t, tc.subject), SignerName: tc.signer,
					Usages: tc.usages, ExpirationSeconds: tc.expiration, Username: "system:node:n1"},
				Status: certificatesv1.CertificateSigningRequestStatus{Conditions: conds},
			}
			f := newFixture(t, Config{CA: ca, Duration: tc.duration}, csr)
			if err := f.c.sync(context.Background(), "csr-1"); err != nil {
				t.Fatalf("sync: %v", err)
			}
			got := f.get(t, "csr-1")
			switch {
			case tc.want.untouched:
				if diff := cmp.Diff(csr.Status, got.Status); diff != "" {
					t.Errorf("status changed (-want +got):\n%s", diff)
				}
				return
			case tc.want.failed != "":
				last := got.Status.Conditions[len(got.Status.Conditions)-1]
				if last.Type != certificatesv1.CertificateFailed || last.Reason != ReasonSignerValidationFailure ||
					last.Message != tc.want.failed || len(got.Status.Certificate) != 0 {
					t.Errorf("got condition %+v certificate %d bytes, want Failed/%s %q and none", last,
						len(got.Status.Certificate), ReasonSignerValidationFailure, tc.want.failed)
				}
				return
			}
			cert := parseCertificate(t, got.Status.Certificate)
			pool := x509.NewCertPool()
			pool.AddCert(ca.Cert)
			if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{tc.want.extUsage}}); err != nil {
				t.Errorf("verify against the CA for %v: %v", tc.want.extUsage, err)
			}
			if !cert.NotBefore.Equal(now.Add(-backdate)) || !cert.NotAfter.Equal(tc.want.notAfter) {
				t.Errorf("validity %v - %v, want %v - %v", cert.NotBefore, cert.NotAfter, now.Add(-backdate), tc.want.notAfter)
			}
			if cert.KeyUsage != tc.want.keyUsage || !cmp.Equal(cert.ExtKeyUsage, []x509.ExtKeyUsage{tc.want.extUsage}) {
				t.Errorf("usages %v %v, want %v %v", cert.KeyUsage, cert.ExtKeyUsage, tc.want.keyUsage, tc.want.extUsage)
			}
			if cert.IsCA || cert.Subject.String() != tc.subject.Subject.String() ||
				!cmp.Equal(cert.DNSNames, tc.subject.DNSNames) || len(cert.IPAddresses) != len(tc.subject.IPAddresses) {
				t.Errorf("certificate %v (CA %v) names %v %v, want the request's %v", cert.Subject, cert.IsCA,
					cert.DNSNames, cert.IPAddresses, tc.subject.Subject)
			}
		})
	}
}

func TestExpiredCA(t *testing.T) {
	ca := newCA(t, now.Add(-time.Minute))
	req, err := certificates.ParseRequest(newRequest(t, x509.CertificateRequest{Subject: pkix.Name{CommonName: "a"}}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ca.sign(req, []certificatesv1.KeyUsage{"client auth"}, time.Hour, now); err == nil {
		t.Errorf("signing with an expired CA: got no error")
	}
}

func TestDuration(t *testing.T) {
	s := func(v int32) *int32 { return &v }
	for _, tc := range []struct {
		seconds *int32
		want    time.Duration
	}{
		{nil, 24 * time.Hour},
		{s(3600), time.Hour},
		{s(60), minDuration},
		{s(7 * 86400), 24 * time.Hour},
	} {
		if got := duration(tc.seconds, 24*time.Hour); got != tc.want {
			t.Errorf("duration(%v) = %v, want %v", tc.seconds, got, tc.want)
		}
	}
}

func parseCertificate(t *testing.T, data []byte) *x509.Certificate {
	t.Helper()
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" {
		t.Fatalf("status.certificate %q is not a PEM certificate", data)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

package framework

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/client-go/util/certificate/csr"
)

// User is a client identity of the cluster, as an administrator makes
// one: a client certificate for the name and groups, requested through a
// CSR of signer kubernetes.io/kube-apiserver-client and approved.
type User struct {
	Config     *rest.Config
	Client     kubernetes.Interface
	Kubeconfig string
}

// NewUser issues a certificate for name in groups through the CSR API as
// the admin and returns a client and a kubeconfig for it.
func (ts *TestServer) NewUser(t testing.TB, name string, groups ...string) *User {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: name, Organization: groups}}, key)
	if err != nil {
		t.Fatal(err)
	}
	csrPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
	reqName := "user-" + strings.NewReplacer(":", "-", "@", "-").Replace(name) + "-" + fmt.Sprint(time.Now().UnixNano())
	_, uid, err := csr.RequestCertificateWithContext(ctx, ts.Client, csrPEM, reqName, certificatesv1.KubeAPIServerClientSignerName,
		nil, []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth}, key)
	if err != nil {
		t.Fatalf("CSR for %s: %v", name, err)
	}
	req, err := ts.Client.CertificatesV1().CertificateSigningRequests().Get(ctx, reqName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	req.Status.Conditions = append(req.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{
		Type: certificatesv1.CertificateApproved, Status: "True", Reason: "TestUser", Message: "issued by the test"})
	if _, err := ts.Client.CertificatesV1().CertificateSigningRequests().UpdateApproval(ctx, reqName, req, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("approving the CSR for %s: %v", name, err)
	}
	certPEM, err := csr.WaitForCertificate(ctx, ts.Client, reqName, uid)
	if err != nil {
		t.Fatalf("certificate for %s: %v", name, err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	cfg := rest.AnonymousClientConfig(ts.Config)
	cfg.CertData, cfg.KeyData = certPEM, keyPEM
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	kc := clientcmdapi.NewConfig()
	kc.Clusters["c"] = &clientcmdapi.Cluster{Server: ts.Config.Host, CertificateAuthorityData: ts.Config.CAData}
	kc.AuthInfos["u"] = &clientcmdapi.AuthInfo{ClientCertificateData: certPEM, ClientKeyData: keyPEM}
	kc.Contexts["c"] = &clientcmdapi.Context{Cluster: "c", AuthInfo: "u"}
	kc.CurrentContext = "c"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		t.Fatal(err)
	}
	return &User{Config: cfg, Client: client, Kubeconfig: path}
}

// KubectlAs runs kubectl as u (its kubeconfig instead of the admin's).
func (ts *TestServer) KubectlAs(t testing.TB, u *User, args ...string) (string, error) {
	t.Helper()
	return ts.Kubectl(t, "", "", append([]string{"--kubeconfig", u.Kubeconfig}, args...)...)
}

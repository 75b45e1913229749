package nodecert

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/certificate"
	"k8s.io/klog/v2"
)

// The identity a node's certificates carry, as kubelet's.
const (
	UserPrefix = "system:node:"
	NodesGroup = "system:nodes"
)

// File name prefixes of the certificate pairs in Config.Dir (kubelet's).
const (
	clientPair  = "kubelet-client"
	servingPair = "kubelet-server"
)

// Config configures a node's credentials.
type Config struct {
	// Bootstrap is the client configuration of the join token: the
	// cluster's address and CA, and the token. Required.
	Bootstrap *rest.Config
	// NodeName names the node (the certificate's CN is
	// system:node:<NodeName>). Required.
	NodeName string
	// NodeIP and NodeName are the serving certificate's SANs.
	NodeIP netip.Addr
	// Dir holds the certificate pairs (made 0700). Required.
	Dir    string
	Logger *slog.Logger
}

// Credentials hold a node's rotating client and serving certificates.
type Credentials struct {
	cfg     Config
	log     *slog.Logger
	client  certificate.Manager
	serving certificate.Manager
}

// New prepares the managers; a stored client certificate that the
// cluster's CA did not sign (the cluster was set up anew) is dropped so
// the node bootstraps again.
func New(cfg Config) (*Credentials, error) {
	if cfg.Bootstrap == nil || cfg.NodeName == "" || cfg.Dir == "" {
		return nil, errors.New("nodecert: Bootstrap, NodeName and Dir are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, err
	}
	c := &Credentials{cfg: cfg, log: cfg.Logger}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(cfg.Bootstrap.CAData) {
		return nil, errors.New("nodecert: the bootstrap configuration has no CA")
	}
	for _, pair := range []string{clientPair, servingPair} {
		c.dropForeign(pair, roots)
	}
	clientStore, err := certificate.NewFileStoreWithLogger(klog.Background().V(2), clientPair, cfg.Dir, cfg.Dir, "", "")
	if err != nil {
		return nil, err
	}
	servingStore, err := certificate.NewFileStoreWithLogger(klog.Background().V(2), servingPair, cfg.Dir, cfg.Dir, "", "")
	if err != nil {
		return nil, err
	}
	subject := pkix.Name{CommonName: UserPrefix + cfg.NodeName, Organization: []string{NodesGroup}}
	c.client, err = certificate.NewManager(&certificate.Config{
		Name:        "client",
		ClientsetFn: c.clientsetFor,
		Template:    &x509.CertificateRequest{Subject: subject},
		SignerName:  certificatesv1.KubeAPIServerClientKubeletSignerName,
		// ECDSA keys: digital signature, no key encipherment (kubelet's).
		Usages:           []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth},
		CertificateStore: clientStore,
	})
	if err != nil {
		return nil, err
	}
	hosts := &x509.CertificateRequest{Subject: subject, DNSNames: []string{cfg.NodeName}}
	if cfg.NodeIP.IsValid() {
		hosts.IPAddresses = []net.IP{net.IP(cfg.NodeIP.AsSlice())}
	}
	c.serving, err = certificate.NewManager(&certificate.Config{
		Name: "serving",
		// Renewed and first requested with the node's own certificate:
		// serving certificates are approved only for the node itself.
		ClientsetFn:      func(*tls.Certificate) (kubernetes.Interface, error) { return c.nodeClientset() },
		Template:         hosts,
		SignerName:       certificatesv1.KubeletServingSignerName,
		Usages:           []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageServerAuth},
		CertificateStore: servingStore,
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// dropForeign removes the current pair named pair when its certificate
// does not verify against roots or has expired.
func (c *Credentials) dropForeign(pair string, roots *x509.CertPool) {
	path := filepath.Join(c.cfg.Dir, pair+"-current.pem")
	data, err := os.ReadFile(path)
	if err != nil {
		return
	}
	keep := false
	if cert, err := tls.X509KeyPair(data, data); err == nil && cert.Leaf != nil {
		_, verr := cert.Leaf.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
		keep = verr == nil
	}
	if !keep {
		c.log.Warn("Dropped a stored node certificate the cluster CA did not sign or that expired; requesting a new one",
			"file", path)
		_ = os.Remove(path)
	}
}

// checkBootstrap fails at once when the server refuses the join token
// (deleted, expired or mistyped), instead of retrying a CSR for ever.
func (c *Credentials) checkBootstrap(ctx context.Context) error {
	cs, err := kubernetes.NewForConfig(rest.CopyConfig(c.cfg.Bootstrap))
	if err != nil {
		return err
	}
	_, err = cs.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if apierrors.IsUnauthorized(err) {
		return fmt.Errorf("the server refused the join token (deleted, expired or wrong): %w", err)
	}
	return nil // other errors: the certificate manager retries
}

// clientsetFor is the client that requests the node's client
// certificate: the node itself while its certificate is valid (a
// renewal), the join token otherwise (bootstrap).
func (c *Credentials) clientsetFor(current *tls.Certificate) (kubernetes.Interface, error) {
	if current != nil && current.Leaf != nil && time.Now().Before(current.Leaf.NotAfter) {
		return c.nodeClientset()
	}
	c.log.Info("Requesting this node's client certificate with the join token", "node", c.cfg.NodeName)
	return kubernetes.NewForConfig(rest.CopyConfig(c.cfg.Bootstrap))
}

func (c *Credentials) nodeClientset() (kubernetes.Interface, error) {
	return kubernetes.NewForConfig(c.restConfig())
}

// restConfig authenticates with the current client certificate file,
// which client-go reloads as it is rotated.
func (c *Credentials) restConfig() *rest.Config {
	cfg := rest.AnonymousClientConfig(c.cfg.Bootstrap)
	path := filepath.Join(c.cfg.Dir, clientPair+"-current.pem")
	cfg.CertFile, cfg.KeyFile = path, path
	return cfg
}

// Client starts the client certificate's rotation, waits until a
// certificate is there (bootstrapping it with the join token if needed)
// and returns the node's client configuration. Call Run to stop the
// managers once the node stops.
func (c *Credentials) Client(ctx context.Context) (*rest.Config, error) {
	if c.client.Current() == nil {
		if err := c.checkBootstrap(ctx); err != nil {
			return nil, err
		}
	}
	c.client.Start()
	if c.client.Current() == nil {
		c.log.Info("Waiting for this node's client certificate (CSR signer kubernetes.io/kube-apiserver-client-kubelet)",
			"node", c.cfg.NodeName)
	}
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for c.client.Current() == nil {
		select {
		case <-ctx.Done():
			c.client.Stop()
			return nil, fmt.Errorf("waiting for the node's client certificate: %w", ctx.Err())
		case <-tick.C:
		}
	}
	return c.restConfig(), nil
}

// Run requests and renews the serving certificate (the Node must be
// registered with its address for the request to be approved) until ctx
// is done, then stops both managers.
func (c *Credentials) Run(ctx context.Context) error {
	c.serving.Start()
	<-ctx.Done()
	c.serving.Stop()
	c.client.Stop()
	return nil
}

// ServingCertificate is the kubelet API's certificate: the CA-signed one
// once issued, until then the given self-signed fallback.
func (c *Credentials) ServingCertificate(fallback tls.Certificate) func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
		if cert := c.serving.Current(); cert != nil {
			return cert, nil
		}
		return &fallback, nil
	}
}

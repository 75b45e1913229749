package pki

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Validity periods. The CA lives long so that joined nodes keep trusting
// it; leaf certificates are reissued by Load when they near expiry.
const (
	caValidity   = 10 * 365 * 24 * time.Hour
	leafValidity = 365 * 24 * time.Hour
	// renewBefore is how close to expiry a leaf certificate may get before
	// Load reissues it.
	renewBefore = 30 * 24 * time.Hour
	// clockSkew backdates NotBefore so that peers with slightly slow clocks
	// accept fresh certificates.
	clockSkew = 5 * time.Minute
)

// File names inside Config.Dir.
const (
	caCertFile     = "ca.crt"
	caKeyFile      = "ca.key"
	serverCertFile = "server.crt"
	serverKeyFile  = "server.key"
	adminCertFile  = "admin.crt"
	adminKeyFile   = "admin.key"
	tokenFile      = "token"
)

// AdminUser and AdminGroup are the subject of the admin client certificate.
const (
	AdminUser  = "admin"
	AdminGroup = "system:masters"
)

// Config says where the PKI lives and whom the serving certificate names.
type Config struct {
	// Dir holds the keys, certificates and token (e.g. <data-dir>/pki).
	// It is created with mode 0700 when missing.
	Dir string
	// Hosts are extra DNS names and IP addresses for the serving
	// certificate: the advertise address, the hostname, the first service
	// IP. localhost, 127.0.0.1, ::1, kubernetes, kubernetes.default and
	// kubernetes.default.svc are always included.
	Hosts []string
	// ClusterDomain, when set, adds kubernetes.default.svc.<ClusterDomain>.
	ClusterDomain string
	// Now returns the current time; nil means time.Now (tests set it).
	Now func() time.Time
}

// PKI is a loaded certificate authority with its issued certificates.
type PKI struct {
	dir     string
	now     func() time.Time
	caCert  *x509.Certificate
	caKey   crypto.Signer
	caPEM   []byte
	pool    *x509.CertPool
	serving tls.Certificate
	admin   keyPair
	token   string
	saKey   *ecdsa.PrivateKey
}

type keyPair struct {
	certPEM, keyPEM []byte
}

// Load opens the PKI in cfg.Dir, creating whatever is missing, and
// reissues the serving certificate when its names differ from the wanted
// ones or it nears expiry.
func Load(cfg Config) (*PKI, error) {
	if cfg.Dir == "" {
		return nil, errors.New("pki: directory not set")
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("create pki directory: %w", err)
	}
	p := &PKI{dir: cfg.Dir, now: cfg.Now}
	if p.now == nil {
		p.now = time.Now
	}
	if err := p.loadCA(); err != nil {
		return nil, err
	}
	if err := p.loadServing(wantedSANs(cfg)); err != nil {
		return nil, err
	}
	if err := p.loadAdmin(); err != nil {
		return nil, err
	}
	if err := p.loadToken(); err != nil {
		return nil, err
	}
	if err := p.loadServiceAccountKey(); err != nil {
		return nil, err
	}
	return p, nil
}

// sans are the subject alternative names of a serving certificate.
type sans struct {
	dns []string
	ips []net.IP
}

func wantedSANs(cfg Config) sans {
	hosts := []string{"localhost", "127.0.0.1", "::1", "kubernetes", "kubernetes.default", "kubernetes.default.svc"}
	if d := strings.Trim(cfg.ClusterDomain, "."); d != "" {
		hosts = append(hosts, "kubernetes.default.svc."+d)
	}
	hosts = append(hosts, cfg.Hosts...)
	var s sans
	for _, h := range hosts {
		h = strings.TrimSpace(h)
		if h == "" {
			continue
		}
		if ip := net.ParseIP(h); ip != nil {
			s.ips = append(s.ips, ip)
		} else {
			s.dns = append(s.dns, strings.ToLower(h))
		}
	}
	return s.normalised()
}

// normalised sorts and de-duplicates s so two sets compare with equal.
func (s sans) normalised() sans {
	dns := slices.Clone(s.dns)
	slices.Sort(dns)
	dns = slices.Compact(dns)
	ips := make([]net.IP, 0, len(s.ips))
	for _, ip := range s.ips {
		if v4 := ip.To4(); v4 != nil {
			ip = v4
		}
		ips = append(ips, ip)
	}
	slices.SortFunc(ips, func(a, b net.IP) int { return bytes.Compare(a, b) })
	ips = slices.CompactFunc(ips, func(a, b net.IP) bool { return a.Equal(b) })
	return sans{dns: dns, ips: ips}
}

func (s sans) equal(o sans) bool {
	return slices.Equal(s.dns, o.dns) && slices.EqualFunc(s.ips, o.ips, func(a, b net.IP) bool { return a.Equal(b) })
}

func (p *PKI) path(name string) string { return filepath.Join(p.dir, name) }

func (p *PKI) loadCA() error {
	certPEM, keyPEM, err := readPair(p.path(caCertFile), p.path(caKeyFile))
	if errors.Is(err, fs.ErrNotExist) {
		certPEM, keyPEM, err = p.newCA()
		if err != nil {
			return err
		}
		if err := writeFileAtomic(p.path(caKeyFile), keyPEM, 0o600); err != nil {
			return err
		}
		if err := writeFileAtomic(p.path(caCertFile), certPEM, 0o644); err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	cert, key, err := parsePair(certPEM, keyPEM)
	if err != nil {
		return fmt.Errorf("load CA: %w", err)
	}
	if !cert.IsCA {
		return fmt.Errorf("load CA: %s is not a CA certificate", p.path(caCertFile))
	}
	p.caCert, p.caKey, p.caPEM = cert, key, certPEM
	p.pool = x509.NewCertPool()
	p.pool.AddCert(cert)
	return nil
}

func (p *PKI) newCA() (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generate CA key: %w", err)
	}
	now := p.now()
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: fmt.Sprintf("svcnet-ca@%d", now.Unix())},
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              now.Add(caValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	return createCert(tmpl, tmpl, key, key)
}

func (p *PKI) loadServing(want sans) error {
	certPEM, keyPEM, err := readPair(p.path(serverCertFile), p.path(serverKeyFile))
	if err == nil {
		cert, _, perr := parsePair(certPEM, keyPEM)
		if perr == nil && p.usable(cert, x509.ExtKeyUsageServerAuth) &&
			(sans{dns: cert.DNSNames, ips: cert.IPAddresses}).normalised().equal(want) {
			return p.setServing(certPEM, keyPEM)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("generate serving key: %w", err)
	}
	now := p.now()
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: "kube-apiserver"},
		NotBefore:   now.Add(-clockSkew),
		NotAfter:    now.Add(leafValidity),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:    want.dns,
		IPAddresses: want.ips,
	}
	certPEM, keyPEM, err = createCert(tmpl, p.caCert, key, p.caKey)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(p.path(serverKeyFile), keyPEM, 0o600); err != nil {
		return err
	}
	if err := writeFileAtomic(p.path(serverCertFile), certPEM, 0o644); err != nil {
		return err
	}
	return p.setServing(certPEM, keyPEM)
}

func (p *PKI) setServing(certPEM, keyPEM []byte) error {
	// The chain includes the CA so clients that only pin it still verify.
	chain := append(append([]byte{}, certPEM...), p.caPEM...)
	c, err := tls.X509KeyPair(chain, keyPEM)
	if err != nil {
		return fmt.Errorf("load serving certificate: %w", err)
	}
	p.serving = c
	return nil
}

func (p *PKI) loadAdmin() error {
	certPEM, keyPEM, err := readPair(p.path(adminCertFile), p.path(adminKeyFile))
	if err == nil {
		cert, _, perr := parsePair(certPEM, keyPEM)
		if perr == nil && p.usable(cert, x509.ExtKeyUsageClientAuth) &&
			cert.Subject.CommonName == AdminUser && slices.Equal(cert.Subject.Organization, []string{AdminGroup}) {
			p.admin = keyPair{certPEM, keyPEM}
			return nil
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	certPEM, keyPEM, err = p.IssueClientCert(AdminUser, []string{AdminGroup})
	if err != nil {
		return err
	}
	if err := writeFileAtomic(p.path(adminKeyFile), keyPEM, 0o600); err != nil {
		return err
	}
	if err := writeFileAtomic(p.path(adminCertFile), certPEM, 0o644); err != nil {
		return err
	}
	p.admin = keyPair{certPEM, keyPEM}
	return nil
}

// usable reports whether cert was signed by the current CA for usage and
// is not close to expiry.
func (p *PKI) usable(cert *x509.Certificate, usage x509.ExtKeyUsage) bool {
	if p.now().Add(renewBefore).After(cert.NotAfter) {
		return false
	}
	_, err := cert.Verify(x509.VerifyOptions{
		Roots:       p.pool,
		CurrentTime: p.now(),
		KeyUsages:   []x509.ExtKeyUsage{usage},
	})
	return err == nil
}

// IssueClientCert signs a new client certificate (ECDSA P-256, one year)
// whose subject is CN=cn, O=orgs: the user name and groups the API server
// sees. It returns PEM-encoded certificate and PKCS#8 key.
func (p *PKI) IssueClientCert(cn string, orgs []string) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generate client key: %w", err)
	}
	now := p.now()
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: cn, Organization: orgs},
		NotBefore:   now.Add(-clockSkew),
		NotAfter:    now.Add(leafValidity),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	return createCert(tmpl, p.caCert, key, p.caKey)
}

// ServerTLS returns a new TLS configuration for the API server: the
// serving certificate, client certificates verified against the CA when
// given, TLS 1.2 or later, and HTTP/2 offered before HTTP/1.1.
func (p *PKI) ServerTLS() *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{p.serving},
		ClientAuth:   tls.VerifyClientCertIfGiven,
		ClientCAs:    p.pool,
		MinVersion:   tls.VersionTLS12,
		NextProtos:   []string{"h2", "http/1.1"},
	}
}

// CAPEM returns the PEM-encoded CA certificate (what /cacerts serves and
// the join token's hash covers).
func (p *PKI) CAPEM() []byte { return slices.Clone(p.caPEM) }

// CA returns the CA certificate and its signing key, for a signer of
// certificate requests (kube-controller-manager's --cluster-signing-*).
func (p *PKI) CA() (*x509.Certificate, crypto.Signer) { return p.caCert, p.caKey }

// CAPool returns a new pool holding the CA certificate.
func (p *PKI) CAPool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(p.caCert)
	return pool
}

// AdminCert returns the PEM-encoded admin client certificate and key.
func (p *PKI) AdminCert() (certPEM, keyPEM []byte) {
	return slices.Clone(p.admin.certPEM), slices.Clone(p.admin.keyPEM)
}

func createCert(tmpl, parent *x509.Certificate, key *ecdsa.PrivateKey, signer crypto.Signer) (certPEM, keyPEM []byte, err error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, fmt.Errorf("generate serial number: %w", err)
	}
	tmpl.SerialNumber = serial
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), signer)
	if err != nil {
		return nil, nil, fmt.Errorf("sign certificate %q: %w", tmpl.Subject.CommonName, err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("encode key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), nil
}

func readPair(certPath, keyPath string) (certPEM, keyPEM []byte, err error) {
	if certPEM, err = os.ReadFile(certPath); err != nil {
		return nil, nil, fmt.Errorf("read certificate: %w", err)
	}
	if keyPEM, err = os.ReadFile(keyPath); err != nil {
		return nil, nil, fmt.Errorf("read key: %w", err)
	}
	return certPEM, keyPEM, nil
}

func parsePair(certPEM, keyPEM []byte) (*x509.Certificate, crypto.Signer, error) {
	cert, err := parseCert(certPEM)
	if err != nil {
		return nil, nil, err
	}
	kb, _ := pem.Decode(keyPEM)
	if kb == nil {
		return nil, nil, errors.New("no PEM key")
	}
	var key any
	switch kb.Type {
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(kb.Bytes)
	default:
		key, err = x509.ParsePKCS8PrivateKey(kb.Bytes)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("parse key: %w", err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, nil, fmt.Errorf("key of type %T cannot sign", key)
	}
	type publicKey interface{ Equal(crypto.PublicKey) bool }
	if pk, ok := signer.Public().(publicKey); !ok || !pk.Equal(cert.PublicKey) {
		return nil, nil, errors.New("key does not match certificate")
	}
	return cert, signer, nil
}

func parseCert(certPEM []byte) (*x509.Certificate, error) {
	b, _ := pem.Decode(certPEM)
	if b == nil || b.Type != "CERTIFICATE" {
		return nil, errors.New("no PEM certificate")
	}
	cert, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse certificate: %w", err)
	}
	return cert, nil
}

// writeFileAtomic writes data to a temporary file in path's directory and
// renames it over path, so readers never see a partial file.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op once renamed
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// KubeletClientUser is the user name of the client certificate the API
// server presents to node agents (kube-apiserver's
// --kubelet-client-certificate); agents serve their pods' logs, exec and
// port-forward only to it.
const KubeletClientUser = "svcnet:apiserver-kubelet-client"

// KubeletClientCert issues a fresh client certificate for the API
// server's connections to node agents, subject CN=KubeletClientUser.
func (p *PKI) KubeletClientCert() (tls.Certificate, error) {
	certPEM, keyPEM, err := p.IssueClientCert(KubeletClientUser, nil)
	if err != nil {
		return tls.Certificate{}, err
	}
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("load kubelet client certificate: %w", err)
	}
	return c, nil
}

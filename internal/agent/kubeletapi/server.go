package kubeletapi

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/svcnet/svcnet/internal/pki"
)

// DefaultPort is kubelet's port, published in the Node's
// status.daemonEndpoints.kubeletEndpoint.
const DefaultPort = 10250

// Timeouts of the server. Streams (follow, exec, port-forward) run for as
// long as the client wants, so only the request header is bounded.
const (
	readHeaderTimeout = 10 * time.Second
	shutdownTimeout   = 5 * time.Second
	// selfSignedValidity matches kubelet's self-signed serving certificate.
	selfSignedValidity = 365 * 24 * time.Hour
)

// Config configures a Server.
type Config struct {
	// Listener is where the server accepts connections (the caller binds
	// it, so it can publish the port). Required.
	Listener net.Listener
	// Cert is the serving certificate; when empty, a self-signed one for
	// Hosts is made. GetCertificate, when set, is asked first (the
	// rotating certificate the cluster CA signed; svcnet's API servers
	// verify it).
	Cert           tls.Certificate
	Hosts          []string
	GetCertificate func(*tls.ClientHelloInfo) (*tls.Certificate, error)
	// ClientCAs verifies client certificates. Required.
	ClientCAs *x509.CertPool
	// Users are the accepted client certificate common names; default
	// pki.KubeletClientUser.
	Users []string
	// Logs, Exec, Attach and PortForward serve /containerLogs/, /exec/,
	// /attach/ and /portForward/; Pods serves /pods (the node's pods as a
	// v1 PodList). A nil one answers 404.
	Logs, Exec, Attach, PortForward, Pods http.Handler
	// LogDir is listed and served under /logs/, as kubelet serves the
	// node's /var/log ("": 404).
	LogDir string
	Logger *slog.Logger
}

// Server is the agent's kubelet API server.
type Server struct {
	cfg     Config
	handler http.Handler
}

// New checks cfg and builds the server (making its self-signed
// certificate if needed).
func New(cfg Config) (*Server, error) {
	if cfg.Listener == nil || cfg.ClientCAs == nil {
		return nil, errors.New("kubeletapi: Listener and ClientCAs are required")
	}
	if len(cfg.Users) == 0 {
		cfg.Users = []string{pki.KubeletClientUser}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if len(cfg.Cert.Certificate) == 0 {
		c, err := SelfSignedCert(cfg.Hosts, time.Now())
		if err != nil {
			return nil, err
		}
		cfg.Cert = c
	}
	return &Server{cfg: cfg, handler: Authenticate(cfg.ClientCAs, cfg.Users, Routes(cfg))}, nil
}

// Routes is the API's handler without authentication, built from cfg's
// handlers and LogDir (the rest of cfg is not used): for an API server
// in the agent's own process, which reaches it without the network.
func Routes(cfg Config) http.Handler {
	mux := http.NewServeMux()
	for path, h := range map[string]http.Handler{"/containerLogs/": cfg.Logs, "/exec/": cfg.Exec,
		"/attach/": cfg.Attach, "/portForward/": cfg.PortForward, "/pods": cfg.Pods} {
		if h != nil {
			mux.Handle(path, h)
		}
	}
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok"))
	})
	if cfg.LogDir != "" {
		mux.Handle("/logs/", http.StripPrefix("/logs/", http.FileServer(http.Dir(cfg.LogDir))))
	}
	return mux
}

// Handler returns the authenticated handler the server serves.
func (s *Server) Handler() http.Handler { return s.handler }

// Run serves HTTPS until ctx ends.
func (s *Server) Run(ctx context.Context) error {
	certs := []tls.Certificate{s.cfg.Cert}
	if s.cfg.GetCertificate != nil {
		certs = nil // else Go asks GetCertificate only for SNI, which clients of an IP do not send
	}
	srv := &http.Server{
		Handler: s.handler,
		TLSConfig: &tls.Config{
			Certificates:   certs,
			GetCertificate: s.cfg.GetCertificate,
			// Verified by Authenticate, so a bad certificate gets an HTTP
			// answer rather than a failed handshake.
			ClientAuth: tls.RequestClientCert,
			MinVersion: tls.VersionTLS12,
			// Upgraded streams (exec, port-forward) need HTTP/1.1.
			NextProtos: []string{"http/1.1"},
		},
		TLSNextProto:      map[string]func(*http.Server, *tls.Conn, http.Handler){},
		ReadHeaderTimeout: readHeaderTimeout,
		BaseContext:       func(net.Listener) context.Context { return ctx },
		ErrorLog:          slog.NewLogLogger(s.cfg.Logger.Handler(), slog.LevelDebug),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.ServeTLS(s.cfg.Listener, "", "") }()
	s.cfg.Logger.Info("Started kubelet API server", "address", s.cfg.Listener.Addr().String())
	select {
	case err := <-errc:
		return fmt.Errorf("kubelet API server: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
	}
	return nil
}

// Authenticate serves next only to clients whose certificate chains to
// cas for client authentication and names one of users: no or an
// unverifiable certificate gets 401, another user 403.
func Authenticate(cas *x509.CertPool, users []string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
			return
		}
		leaf := r.TLS.PeerCertificates[0]
		inter := x509.NewCertPool()
		for _, c := range r.TLS.PeerCertificates[1:] {
			inter.AddCert(c)
		}
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: cas, Intermediates: inter,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
			return
		}
		if user := leaf.Subject.CommonName; !slices.Contains(users, user) {
			// kubelet's wording; these paths are all nodes/proxy.
			verb := "get"
			if r.Method != http.MethodGet && r.Method != http.MethodHead {
				verb = "create"
			}
			http.Error(w, fmt.Sprintf("Forbidden (user=%s, verb=%s, resource=nodes, subresource(s)=[proxy])", user, verb),
				http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// SelfSignedCert makes a self-signed serving certificate for hosts (IP
// addresses or DNS names), named "<first host>@<unix time>" as kubelet's.
func SelfSignedCert(hosts []string, now time.Time) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("generate serving key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("generate serial number: %w", err)
	}
	name := "svcnet-agent"
	if len(hosts) > 0 {
		name = hosts[0]
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: fmt.Sprintf("%s@%d", name, now.Unix())},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(selfSignedValidity),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	for _, h := range hosts {
		if ip := net.ParseIP(strings.Trim(h, "[]")); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if h != "" {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("sign serving certificate: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: nil}, nil
}

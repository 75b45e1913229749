package images

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// Environment prefixes porter reads: SERVE_PORT_<n>=<body> serves body
// over HTTP on port n, SERVE_TLS_PORT_<n>=<body> over HTTPS.
const (
	porterPrefix    = "SERVE_PORT_"
	porterTLSPrefix = "SERVE_TLS_PORT_"
)

// porterCertValidity is how long porter's self-signed certificate lasts
// (a pod's lifetime at most).
const porterCertValidity = 365 * 24 * time.Hour

// porterResponse is the --json-response body, as upstream's porter.
type porterResponse struct {
	Method string
	Body   string
}

// porterHandler answers every request with body, or with the request's
// method and body as JSON.
func porterHandler(body string, jsonResponse bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if jsonResponse {
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(porterResponse{Method: r.Method, Body: body})
			return
		}
		_, _ = io.WriteString(w, body)
	})
}

// porter is agnhost's porter: one server per SERVE_PORT_* and
// SERVE_TLS_PORT_* variable of env. TLS uses --cert-file/--key-file when
// they exist (the image ships /localhost.crt and /localhost.key), else a
// self-signed certificate for localhost.
func porter(ctx context.Context, args, env []string) error {
	fs := flag.NewFlagSet("porter", flag.ContinueOnError)
	jsonResponse := fs.Bool("json-response", false, "answer {\"Method\": ..., \"Body\": ...}")
	certFile := fs.String("cert-file", "/localhost.crt", "TLS certificate")
	keyFile := fs.String("key-file", "/localhost.key", "TLS key")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var tlsCfg *tls.Config
	var servers []*http.Server
	errc := make(chan error, len(env))
	for _, kv := range env {
		k, body, _ := strings.Cut(kv, "=")
		secure := strings.HasPrefix(k, porterTLSPrefix)
		port, ok := strings.CutPrefix(k, porterPrefix)
		if secure {
			port = strings.TrimPrefix(k, porterTLSPrefix)
		} else if !ok {
			continue
		}
		if _, err := strconv.ParseUint(port, 10, 16); err != nil {
			return fmt.Errorf("porter: %s: invalid port %q", k, port)
		}
		ln, err := net.Listen("tcp", ":"+port)
		if err != nil {
			return fmt.Errorf("porter: %w", err)
		}
		if secure {
			if tlsCfg == nil {
				if tlsCfg, err = porterTLS(*certFile, *keyFile); err != nil {
					ln.Close()
					return err
				}
			}
			ln = tls.NewListener(ln, tlsCfg)
		}
		srv := &http.Server{Handler: porterHandler(body, *jsonResponse), ReadHeaderTimeout: 10 * time.Second}
		servers = append(servers, srv)
		go func() { errc <- srv.Serve(ln) }()
	}
	if len(servers) == 0 {
		return errors.New("porter: no SERVE_PORT_<n> or SERVE_TLS_PORT_<n> variable")
	}
	defer func() {
		for _, s := range servers {
			s.Close()
		}
	}()
	select {
	case <-ctx.Done():
		return nil
	case err := <-errc:
		return fmt.Errorf("porter: %w", err)
	}
}

// porterTLS loads certFile and keyFile, or makes a self-signed
// certificate for localhost when they do not exist.
func porterTLS(certFile, keyFile string) (*tls.Config, error) {
	if _, err := os.Stat(certFile); err == nil {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("porter: %w", err)
		}
		return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("porter: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(now.UnixNano()), Subject: pkix.Name{CommonName: "localhost"},
		DNSNames: []string{"localhost"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(porterCertValidity),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("porter: %w", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}},
		MinVersion: tls.VersionTLS12}, nil
}

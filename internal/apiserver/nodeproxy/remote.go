package nodeproxy

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Timeouts towards agents; streams themselves are unbounded.
const (
	defaultDialTimeout  = 5 * time.Second
	tlsHandshakeTimeout = 10 * time.Second
	// maxErrorBody bounds the agent's error answer turned into a Status.
	maxErrorBody = 64 * 1024
	// streamBuffer is the chunk size of a streamed log.
	streamBuffer = 32 * 1024
)

// addressTypes are the Node addresses tried, in order, to reach its agent.
var addressTypes = []corev1.NodeAddressType{corev1.NodeInternalIP, corev1.NodeExternalIP, corev1.NodeHostName}

// RemoteConfig lets Nodes reach agents running elsewhere.
type RemoteConfig struct {
	// Node returns the Node named name. Required.
	Node func(ctx context.Context, name string) (*corev1.Node, error)
	// ClientCert is presented to agents (pki.PKI.KubeletClientCert).
	ClientCert tls.Certificate
	// RootCAs verify the agents' serving certificates (the cluster CA,
	// which signs them through kubelet-serving CSRs) for the address
	// dialled. Required.
	RootCAs *x509.CertPool
	// DialTimeout bounds connecting to an agent (default 5s).
	DialTimeout time.Duration
}

type remote struct {
	node      func(ctx context.Context, name string) (*corev1.Node, error)
	transport *http.Transport
}

// SetRemote makes Nodes reach the agents of nodes that have no handler in
// this process at their Node's address and
// status.daemonEndpoints.kubeletEndpoint.port. As kube-apiserver with
// --kubelet-certificate-authority, it verifies the agent's serving
// certificate for the address it dials; agents verify the client
// certificate.
func (n *Nodes) SetRemote(cfg RemoteConfig) error {
	if cfg.Node == nil || len(cfg.ClientCert.Certificate) == 0 || cfg.RootCAs == nil {
		return errors.New("nodeproxy: Node, ClientCert and RootCAs are required")
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = defaultDialTimeout
	}
	rem := &remote{node: cfg.Node, transport: &http.Transport{
		DialContext: (&net.Dialer{Timeout: cfg.DialTimeout}).DialContext,
		TLSClientConfig: &tls.Config{
			Certificates: []tls.Certificate{cfg.ClientCert},
			RootCAs:      cfg.RootCAs,
			MinVersion:   tls.VersionTLS12,
		},
		TLSHandshakeTimeout: tlsHandshakeTimeout,
		MaxIdleConnsPerHost: 4,
	}}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.remote = rem
	return nil
}

// location is https://<address>:<kubelet port> of the agent of node.
func (rem *remote) location(ctx context.Context, name string) (*url.URL, error) {
	node, err := rem.node(ctx, name)
	if apierrors.IsNotFound(err) {
		return nil, apierrors.NewServiceUnavailable(fmt.Sprintf("node %q not found", name))
	}
	if err != nil {
		return nil, apierrors.NewServiceUnavailable(fmt.Sprintf("getting node %q: %v", name, err))
	}
	port := node.Status.DaemonEndpoints.KubeletEndpoint.Port
	if port <= 0 {
		return nil, apierrors.NewServiceUnavailable(fmt.Sprintf(
			"node %q publishes no kubelet port (status.daemonEndpoints.kubeletEndpoint.port)", name))
	}
	addr := nodeAddress(node)
	if addr == "" {
		return nil, apierrors.NewServiceUnavailable(fmt.Sprintf("node %q has no address", name))
	}
	return &url.URL{Scheme: "https", Host: net.JoinHostPort(addr, strconv.Itoa(int(port)))}, nil
}

// unreachable is the error of an agent that could not be reached.
func unreachable(node string, target *url.URL, err error) error {
	return apierrors.NewServiceUnavailable(fmt.Sprintf("the agent of node %q at %s is not reachable: %v", node, target.Host, err))
}

// stream GETs target and copies the answer to w as it comes; an error
// answer becomes a Status with the agent's code and message.
func (rem *remote) stream(w http.ResponseWriter, r *http.Request, node string, target *url.URL) error {
	req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, target.String(), nil)
	if err != nil {
		return apierrors.NewInternalError(err)
	}
	resp, err := rem.transport.RoundTrip(req)
	if err != nil {
		return unreachable(node, target, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		return agentError(resp.StatusCode, strings.TrimSpace(string(body)))
	}
	if ct := resp.Header.Get("Content-Type"); ct != "" {
		w.Header().Set("Content-Type", ct)
	}
	w.WriteHeader(resp.StatusCode)
	rc := http.NewResponseController(w)
	buf := make([]byte, streamBuffer)
	for {
		n, err := resp.Body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return nil // the client went away
			}
			_ = rc.Flush()
		}
		if err != nil {
			return nil // the agent ended the stream (or the client went away)
		}
	}
}

// agentError is the Status of an agent's error answer.
func agentError(code int, msg string) error {
	reason := metav1.StatusReasonInternalError
	switch code {
	case http.StatusBadRequest:
		reason = metav1.StatusReasonBadRequest
	case http.StatusUnauthorized:
		reason = metav1.StatusReasonUnauthorized
	case http.StatusForbidden:
		reason = metav1.StatusReasonForbidden
	case http.StatusNotFound:
		reason = metav1.StatusReasonNotFound
	case http.StatusServiceUnavailable:
		reason = metav1.StatusReasonServiceUnavailable
	}
	return &apierrors.StatusError{ErrStatus: metav1.Status{Status: metav1.StatusFailure, Code: int32(code),
		Reason: reason, Message: msg}}
}

// proxy forwards r to target, following an upgrade (101 Switching
// Protocols) by copying both directions until either side closes.
func (rem *remote) proxy(w http.ResponseWriter, r *http.Request, node string, target *url.URL) error {
	var proxyErr error
	p := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL = target
			pr.Out.Host = ""
			// The agent trusts our certificate, not the client's
			// credentials: keep those to ourselves.
			pr.Out.Header.Del("Authorization")
			for k := range pr.Out.Header {
				if strings.HasPrefix(k, "Impersonate-") {
					pr.Out.Header.Del(k)
				}
			}
		},
		Transport:     rem.transport,
		FlushInterval: -1,
		ErrorHandler:  func(_ http.ResponseWriter, _ *http.Request, err error) { proxyErr = err },
	}
	p.ServeHTTP(w, r)
	if proxyErr != nil {
		return unreachable(node, target, proxyErr)
	}
	return nil
}

package podproxy

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	utilproxy "k8s.io/apimachinery/pkg/util/proxy"

	"github.com/svcnet/svcnet/internal/registry"
)

// dialTimeout bounds connecting to a pod; the exchange itself is not
// bounded (a proxied request may stream).
const dialTimeout = 5 * time.Second

// Config configures a Proxy.
type Config struct {
	// EndpointSlices returns the EndpointSlices of Service ns/name.
	// Required for services/proxy.
	EndpointSlices func(ctx context.Context, ns, name string) ([]discoveryv1.EndpointSlice, error)
	// Transport reaches the pods; nil dials them directly.
	Transport http.RoundTripper
	// AllowAddress reports whether requests may be proxied to an address;
	// nil refuses loopback, link-local and unspecified ones, as
	// kube-apiserver does. Tests with loopback backends replace it.
	AllowAddress func(netip.Addr) bool
}

// Proxy proxies requests to pods.
type Proxy struct {
	cfg Config
}

// New returns a Proxy.
func New(cfg Config) *Proxy {
	if cfg.Transport == nil {
		cfg.Transport = &http.Transport{
			Proxy:               nil, // never through an environment proxy
			DialContext:         (&net.Dialer{Timeout: dialTimeout}).DialContext,
			TLSHandshakeTimeout: dialTimeout,
			// As kube-apiserver, pods' serving certificates are not verified.
			TLSClientConfig:     &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}, //nolint:gosec // as kube-apiserver
			MaxIdleConnsPerHost: 2,
			IdleConnTimeout:     30 * time.Second,
		}
	}
	if cfg.AllowAddress == nil {
		cfg.AllowAddress = proxyableAddr
	}
	return &Proxy{cfg: cfg}
}

// Target is what a proxy URL names.
type Target struct {
	// Scheme is "", "http" or "https".
	Scheme string
	Name   string
	// Port is a number or a port name ("" if none).
	Port string
	// Path is the escaped remainder after /proxy, starting with "/".
	Path string
}

// ParseURL reads the target of a proxy request path (escaped, as
// url.URL.EscapedPath gives it) for resource "pods" or "services".
func ParseURL(escapedPath, resource string) (Target, error) {
	parts := strings.Split(strings.TrimPrefix(escapedPath, "/"), "/")
	for i := 0; i+2 < len(parts); i++ {
		if parts[i] != resource || parts[i+2] != "proxy" {
			continue
		}
		id, err := url.PathUnescape(parts[i+1])
		if err != nil {
			return Target{}, apierrors.NewBadRequest(fmt.Sprintf("invalid %s request %q", singular(resource), parts[i+1]))
		}
		scheme, name, port, ok := utilnet.SplitSchemeNamePort(id)
		if !ok {
			return Target{}, apierrors.NewBadRequest(fmt.Sprintf("invalid %s request %q", singular(resource), id))
		}
		return Target{Scheme: scheme, Name: name, Port: port, Path: "/" + strings.Join(parts[i+3:], "/")}, nil
	}
	return Target{}, apierrors.NewBadRequest(fmt.Sprintf("not a %s proxy path: %q", singular(resource), escapedPath))
}

func singular(resource string) string { return strings.TrimSuffix(resource, "s") }

// PodConnector serves pods/proxy: the pod's IP at the given port, else the
// first declared container port, else the scheme's default port.
func (p *Proxy) PodConnector() registry.Connector {
	return func(w http.ResponseWriter, r *http.Request, obj runtime.Object) error {
		pod, ok := obj.(*corev1.Pod)
		if !ok {
			return apierrors.NewInternalError(fmt.Errorf("pods/proxy on %T", obj))
		}
		t, err := ParseURL(r.URL.EscapedPath(), "pods")
		if err != nil {
			return err
		}
		if RedirectToSlash(w, r) {
			return nil
		}
		host, err := podHost(pod, t.Port)
		if err != nil {
			return err
		}
		if err := p.proxyable(host); err != nil {
			return err
		}
		p.forward(w, r, t, host)
		return nil
	}
}

// proxyableAddr refuses, as kube-apiserver does, loopback and link-local
// addresses: a hand-written Endpoints or a pod IP must not turn the API
// server into a way to reach its own host's services or a cloud metadata
// endpoint.
func proxyableAddr(ip netip.Addr) bool {
	return !ip.IsLoopback() && !ip.IsLinkLocalUnicast() && !ip.IsLinkLocalMulticast() &&
		!ip.IsInterfaceLocalMulticast() && !ip.IsUnspecified()
}

// proxyable answers 400 for a host whose address may not be proxied to.
func (p *Proxy) proxyable(host string) error {
	h, _, err := net.SplitHostPort(host)
	if err != nil {
		h = host
	}
	ip, err := netip.ParseAddr(h)
	if err != nil {
		return apierrors.NewBadRequest(fmt.Sprintf("address not allowed: %q is not an IP address", h))
	}
	if !p.cfg.AllowAddress(ip.Unmap()) {
		return apierrors.NewBadRequest("address not allowed")
	}
	return nil
}

// podHost is the pod's IP joined with port, resolved against the
// containers' ports when it is a name or empty.
func podHost(pod *corev1.Pod, port string) (string, error) {
	if pod.Status.PodIP == "" {
		return "", apierrors.NewServiceUnavailable(fmt.Sprintf("pod %s has no IP address yet", pod.Name))
	}
	if _, err := strconv.Atoi(port); port != "" && err != nil {
		named := ""
		for _, c := range pod.Spec.Containers {
			for _, cp := range c.Ports {
				if cp.Name == port {
					named = strconv.Itoa(int(cp.ContainerPort))
				}
			}
		}
		if named == "" {
			return "", apierrors.NewBadRequest(fmt.Sprintf("pod %s has no port named %q", pod.Name, port))
		}
		port = named
	}
	if port == "" {
		for _, c := range pod.Spec.Containers {
			if len(c.Ports) > 0 {
				port = strconv.Itoa(int(c.Ports[0].ContainerPort))
				break
			}
		}
	}
	if port == "" {
		return pod.Status.PodIP, nil
	}
	return net.JoinHostPort(pod.Status.PodIP, port), nil
}

// ServiceConnector serves services/proxy: a ready endpoint, picked at
// random, of the Service port named (or numbered) in the URL.
func (p *Proxy) ServiceConnector() registry.Connector {
	return func(w http.ResponseWriter, r *http.Request, obj runtime.Object) error {
		svc, ok := obj.(*corev1.Service)
		if !ok {
			return apierrors.NewInternalError(fmt.Errorf("services/proxy on %T", obj))
		}
		t, err := ParseURL(r.URL.EscapedPath(), "services")
		if err != nil {
			return err
		}
		if RedirectToSlash(w, r) {
			return nil
		}
		if p.cfg.EndpointSlices == nil {
			return apierrors.NewServiceUnavailable("services/proxy is not configured")
		}
		slices, err := p.cfg.EndpointSlices(r.Context(), svc.Namespace, svc.Name)
		if err != nil {
			return err
		}
		hosts := EndpointHosts(svc, t.Port, slices)
		if len(hosts) == 0 {
			return apierrors.NewServiceUnavailable(fmt.Sprintf("no endpoints available for service %q", svc.Name))
		}
		host := hosts[rand.IntN(len(hosts))]
		if err := p.proxyable(host); err != nil {
			return err
		}
		p.forward(w, r, t, host)
		return nil
	}
}

// EndpointHosts lists ip:port of the ready endpoints of svc's port named
// port; a number selects the Service port with that number, as upstream.
func EndpointHosts(svc *corev1.Service, port string, slices []discoveryv1.EndpointSlice) []string {
	name := port
	if n, err := strconv.Atoi(port); err == nil {
		for _, sp := range svc.Spec.Ports {
			if int(sp.Port) == n {
				name = sp.Name
				break
			}
		}
	}
	var hosts []string
	for _, s := range slices {
		if s.AddressType != discoveryv1.AddressTypeIPv4 && s.AddressType != discoveryv1.AddressTypeIPv6 {
			continue
		}
		for _, ep := range s.Endpoints {
			if ep.Conditions.Ready != nil && !*ep.Conditions.Ready {
				continue
			}
			for _, sp := range s.Ports {
				if sp.Port == nil || (sp.Name != nil && *sp.Name != name) || (sp.Name == nil && name != "") {
					continue
				}
				for _, addr := range ep.Addresses {
					hosts = append(hosts, net.JoinHostPort(addr, strconv.Itoa(int(*sp.Port))))
				}
			}
		}
	}
	return hosts
}

// RedirectToSlash answers a GET or HEAD of a proxy URL without a path
// (".../proxy") with 301 to the same URL with "/" appended, as
// kube-apiserver does so relative links resolve below the proxy, and
// reports whether it did.
func RedirectToSlash(w http.ResponseWriter, r *http.Request) bool {
	if (r.Method != http.MethodGet && r.Method != http.MethodHead) || !strings.HasSuffix(r.URL.EscapedPath(), "/proxy") {
		return false
	}
	loc := r.URL.EscapedPath() + "/"
	if r.URL.RawQuery != "" {
		loc += "?" + r.URL.RawQuery
	}
	w.Header().Set("Location", loc)
	w.WriteHeader(http.StatusMovedPermanently)
	return true
}

// Forward proxies r to scheme://host<t.Path>?<query> after checking host
// may be proxied to (see Config.AllowAddress), without the caller's
// credentials: nodes/proxy uses it for node ports other than the
// kubelet's.
func (p *Proxy) Forward(w http.ResponseWriter, r *http.Request, t Target, host string) error {
	if err := p.proxyable(host); err != nil {
		return err
	}
	p.forward(w, r, t, host)
	return nil
}

// forward proxies r to scheme://host<t.Path>?<query>; links in HTML
// answers are rewritten below the proxy URL.
func (p *Proxy) forward(w http.ResponseWriter, r *http.Request, t Target, host string) {
	scheme := t.Scheme
	if scheme == "" {
		scheme = "http"
	}
	target := &url.URL{Scheme: scheme, Host: host, RawQuery: r.URL.RawQuery}
	if path, err := url.PathUnescape(t.Path); err == nil {
		target.Path, target.RawPath = path, t.Path
	} else {
		target.Path = t.Path
	}
	// As kube-apiserver, absolute links of the target's HTML pages (and
	// its redirects) are rewritten to go through the proxy URL.
	prepend := r.URL.EscapedPath()
	if !strings.HasSuffix(prepend, "/proxy") {
		prepend = strings.TrimSuffix(prepend, t.Path)
	}
	rp := &httputil.ReverseProxy{
		Transport: &utilproxy.Transport{PathPrepend: prepend, RoundTripper: p.cfg.Transport},
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL = target
			pr.Out.Host = host
			// The caller's credentials are for the API server only.
			pr.Out.Header.Del("Authorization")
		},
		FlushInterval: -1, // stream as the pod answers
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			if errors.Is(err, context.Canceled) {
				return
			}
			// The link-rewriting transport wraps its own failures in a
			// Status; only its wording of the cause is kept.
			var se *apierrors.StatusError
			if errors.As(err, &se) {
				err = errors.New(strings.TrimPrefix(se.ErrStatus.Message, "error trying to reach service: "))
			}
			writeStatus(w, apierrors.NewServiceUnavailable(fmt.Sprintf("error trying to reach %s: %v", host, err)))
		},
	}
	rp.ServeHTTP(w, r)
}

// writeStatus answers with a v1 Status for err.
func writeStatus(w http.ResponseWriter, err *apierrors.StatusError) {
	st := err.ErrStatus
	st.Kind, st.APIVersion = "Status", "v1"
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(int(st.Code))
	_ = json.NewEncoder(w).Encode(st)
}

package podproxy

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func TestParseURL(t *testing.T) {
	tests := []struct {
		name, path, resource string
		want                 Target
		wantErr              bool
	}{
		{"name only", "/api/v1/namespaces/default/pods/web/proxy", "pods", Target{Name: "web", Path: "/"}, false},
		{"port and path", "/api/v1/namespaces/default/pods/web:8080/proxy/hostname", "pods",
			Target{Name: "web", Port: "8080", Path: "/hostname"}, false},
		{"trailing slash kept", "/api/v1/namespaces/ns/pods/web:http/proxy/a/b/", "pods",
			Target{Name: "web", Port: "http", Path: "/a/b/"}, false},
		{"scheme", "/api/v1/namespaces/ns/services/https:web:443/proxy/x", "services",
			Target{Scheme: "https", Name: "web", Port: "443", Path: "/x"}, false},
		{"escaped colon", "/api/v1/namespaces/ns/services/web%3Ahttp/proxy/", "services",
			Target{Name: "web", Port: "http", Path: "/"}, false},
		{"escaped path stays escaped", "/api/v1/namespaces/ns/pods/web/proxy/a%2Fb", "pods",
			Target{Name: "web", Path: "/a%2Fb"}, false},
		{"proxy as a path segment", "/api/v1/namespaces/ns/pods/web/proxy/proxy", "pods",
			Target{Name: "web", Path: "/proxy"}, false},
		{"bad scheme", "/api/v1/namespaces/ns/services/ftp:web:21/proxy/", "services", Target{}, true},
		{"too many colons", "/api/v1/namespaces/ns/pods/a:b:c:d/proxy/", "pods", Target{}, true},
		{"empty name", "/api/v1/namespaces/ns/pods/:80/proxy/", "pods", Target{}, true},
		{"other resource", "/api/v1/namespaces/ns/pods/web/proxy/", "services", Target{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseURL(tc.path, tc.resource)
			if (err != nil) != tc.wantErr {
				t.Fatalf("ParseURL(%q) error got %v, want error %v", tc.path, err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ParseURL(%q) (-want +got):\n%s", tc.path, diff)
			}
		})
	}
}

func TestEndpointHosts(t *testing.T) {
	svc := &corev1.Service{Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{
		{Name: "http", Port: 80}, {Name: "metrics", Port: 9090}}}}
	slices := []discoveryv1.EndpointSlice{{
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints: []discoveryv1.Endpoint{
			{Addresses: []string{"10.244.0.5"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}},
			{Addresses: []string{"10.244.0.6"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(false)}},
			{Addresses: []string{"10.244.1.7"}},
		},
		Ports: []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To[int32](8080)},
			{Name: ptr.To("metrics"), Port: ptr.To[int32](9100)}},
	}, {
		AddressType: discoveryv1.AddressTypeFQDN,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{"example.com"}}},
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To[int32](80)}},
	}}
	tests := []struct {
		port string
		want []string
	}{
		{"http", []string{"10.244.0.5:8080", "10.244.1.7:8080"}},
		{"80", []string{"10.244.0.5:8080", "10.244.1.7:8080"}},
		{"9090", []string{"10.244.0.5:9100", "10.244.1.7:9100"}},
		{"", nil},
		{"nope", nil},
	}
	for _, tc := range tests {
		t.Run(tc.port, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, EndpointHosts(svc, tc.port, slices)); diff != "" {
				t.Errorf("EndpointHosts(%q) (-want +got):\n%s", tc.port, diff)
			}
		})
	}
}

func TestPodHost(t *testing.T) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Status: corev1.PodStatus{PodIP: "10.244.0.5"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "a"},
			{Name: "b", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}, {Name: "udp", ContainerPort: 53}}}}}}
	for port, want := range map[string]string{"": "10.244.0.5:8080", "9000": "10.244.0.5:9000", "http": "10.244.0.5:8080"} {
		if got, err := podHost(pod, port); err != nil || got != want {
			t.Errorf("podHost(%q) got (%q, %v), want %q", port, got, err, want)
		}
	}
	if _, err := podHost(pod, "nope"); err == nil {
		t.Errorf("podHost with an unknown port name got no error")
	}
	pod.Status.PodIP = ""
	if _, err := podHost(pod, "80"); err == nil {
		t.Errorf("podHost without a pod IP got no error")
	}
}

// TestConnectors proxies to a real HTTP server on loopback, standing in
// for a pod: path, query, method and body arrive, credentials do not.
func TestConnectors(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		_, _ = io.WriteString(w, r.Method+" "+r.URL.RequestURI()+" auth="+r.Header.Get("Authorization")+" body="+string(b))
	}))
	defer backend.Close()
	host, port, _ := net.SplitHostPort(strings.TrimPrefix(backend.URL, "http://"))
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns"}, Status: corev1.PodStatus{PodIP: host}}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns"},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80}}}}
	p := New(Config{EndpointSlices: func(_ context.Context, ns, name string) ([]discoveryv1.EndpointSlice, error) {
		if ns != "ns" || name != "web" {
			return nil, nil
		}
		return []discoveryv1.EndpointSlice{{AddressType: discoveryv1.AddressTypeIPv4,
			Endpoints: []discoveryv1.Endpoint{{Addresses: []string{host}}},
			Ports:     []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To(int32(mustAtoi(t, port)))}}}}, nil
	}, AllowAddress: func(netip.Addr) bool { return true }})
	tests := []struct {
		name, method, path, body, want string
		wantCode                       int
		serve                          func(w http.ResponseWriter, r *http.Request) error
	}{
		{"pod GET", http.MethodGet, "/api/v1/namespaces/ns/pods/web:" + port + "/proxy/hostname?x=1", "",
			"GET /hostname?x=1 auth= body=", 200, func(w http.ResponseWriter, r *http.Request) error { return p.PodConnector()(w, r, pod) }},
		{"service POST by port number", http.MethodPost, "/api/v1/namespaces/ns/services/web:80/proxy/echo", "hi",
			"POST /echo auth= body=hi", 200, func(w http.ResponseWriter, r *http.Request) error { return p.ServiceConnector()(w, r, svc) }},
		{"service by port name", http.MethodGet, "/api/v1/namespaces/ns/services/http:web:http/proxy/", "",
			"GET / auth= body=", 200, func(w http.ResponseWriter, r *http.Request) error { return p.ServiceConnector()(w, r, svc) }},
		{"pod POST without path", http.MethodPost, "/api/v1/namespaces/ns/pods/web:" + port + "/proxy?method=POST", "",
			"POST /?method=POST auth= body=", 200, func(w http.ResponseWriter, r *http.Request) error { return p.PodConnector()(w, r, pod) }},
		{"pod GET without path redirects", http.MethodGet, "/api/v1/namespaces/ns/pods/web/proxy?method=GET", "",
			"", 301, func(w http.ResponseWriter, r *http.Request) error { return p.PodConnector()(w, r, pod) }},
		{"service HEAD without path redirects", http.MethodHead, "/api/v1/namespaces/ns/services/web/proxy", "",
			"", 301, func(w http.ResponseWriter, r *http.Request) error { return p.ServiceConnector()(w, r, svc) }},
		{"pod refusing", http.MethodGet, "/api/v1/namespaces/ns/pods/web:1/proxy/", "",
			"error trying to reach " + host + ":1: dial tcp", 503, func(w http.ResponseWriter, r *http.Request) error { return p.PodConnector()(w, r, pod) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, "https://apiserver"+tc.path, strings.NewReader(tc.body))
			r.Header.Set("Authorization", "Bearer secret")
			w := httptest.NewRecorder()
			if err := tc.serve(w, r); err != nil {
				t.Fatal(err)
			}
			if w.Code != tc.wantCode || !strings.Contains(w.Body.String(), tc.want) {
				t.Errorf("got %d %q, want %d containing %q", w.Code, w.Body.String(), tc.wantCode, tc.want)
			}
			if w.Code == 301 {
				u, _ := url.Parse(tc.path)
				want := u.Path + "/"
				if u.RawQuery != "" {
					want += "?" + u.RawQuery
				}
				if got := w.Header().Get("Location"); got != want {
					t.Errorf("got Location %q, want %q", got, want)
				}
			}
		})
	}
	r := httptest.NewRequest(http.MethodGet, "https://apiserver/api/v1/namespaces/ns/services/web:metrics/proxy/", nil)
	if err := p.ServiceConnector()(httptest.NewRecorder(), r, svc); err == nil || !strings.Contains(err.Error(), `no endpoints available for service "web"`) {
		t.Errorf("service without endpoints for the port got %v, want no endpoints available", err)
	}
}

func TestRefusesLoopbackAndLinkLocal(t *testing.T) {
	p := New(Config{})
	for _, ip := range []string{"127.0.0.1", "169.254.169.254", "::1", "fe80::1", "0.0.0.0"} {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns"},
			Spec:   corev1.PodSpec{Containers: []corev1.Container{{Ports: []corev1.ContainerPort{{ContainerPort: 80}}}}},
			Status: corev1.PodStatus{PodIP: ip}}
		r := httptest.NewRequest(http.MethodGet, "https://apiserver/api/v1/namespaces/ns/pods/web/proxy/", nil)
		err := p.PodConnector()(httptest.NewRecorder(), r, pod)
		if !apierrors.IsBadRequest(err) || !strings.Contains(err.Error(), "address not allowed") {
			t.Errorf("pod IP %s: got %v, want 400 address not allowed", ip, err)
		}
	}
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestRewritesHTMLLinks checks, as upstream's "should proxy through a
// service and a pod" conformance spec, that absolute links of a proxied
// HTML page point below the proxy URL it was fetched through.
func TestRewritesHTMLLinks(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/plain" {
			w.Header().Set("Content-Type", "text/plain")
			_, _ = io.WriteString(w, `<a href="/rewriteme">test</a>`) // not HTML: kept
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, `<a href="/rewriteme">test</a><a href="relative">r</a>`)
	}))
	defer backend.Close()
	host, port, _ := net.SplitHostPort(strings.TrimPrefix(backend.URL, "http://"))
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns"},
		Spec:   corev1.PodSpec{Containers: []corev1.Container{{Ports: []corev1.ContainerPort{{ContainerPort: int32(mustAtoi(t, port))}}}}},
		Status: corev1.PodStatus{PodIP: host}}
	p := New(Config{AllowAddress: func(netip.Addr) bool { return true }})
	for _, tc := range []struct{ path, want string }{
		{"/api/v1/namespaces/ns/pods/web/proxy/",
			`<a href="/api/v1/namespaces/ns/pods/web/proxy/rewriteme">test</a><a href="relative">r</a>`},
		{"/api/v1/namespaces/ns/pods/http:web:" + port + "/proxy/some/page",
			`<a href="/api/v1/namespaces/ns/pods/http:web:` + port + `/proxy/rewriteme">test</a><a href="relative">r</a>`},
		{"/api/v1/namespaces/ns/pods/web/proxy/plain", `<a href="/rewriteme">test</a>`},
	} {
		t.Run(tc.path, func(t *testing.T) {
			w := httptest.NewRecorder()
			if err := p.PodConnector()(w, httptest.NewRequest(http.MethodGet, "https://apiserver"+tc.path, nil), pod); err != nil {
				t.Fatal(err)
			}
			if w.Code != 200 || w.Body.String() != tc.want {
				t.Errorf("got %d %q, want 200 %q", w.Code, w.Body.String(), tc.want)
			}
		})
	}
}

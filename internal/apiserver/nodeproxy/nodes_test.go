package nodeproxy

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/svcnet/svcnet/internal/agent/kubeletapi"
	"github.com/svcnet/svcnet/internal/apiserver/podproxy"
	"github.com/svcnet/svcnet/internal/pki"
)

// startKubelet runs the kubelet API's routes on loopback behind its
// authentication, as an agent on another machine, and returns its port.
func startKubelet(t *testing.T, ca *pki.PKI, name string) int32 {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pods := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, name+" "+r.Method+" "+r.URL.RequestURI()+" auth="+r.Header.Get("Authorization"))
	})
	cert, err := ca.IssueKubeletServingCert(name, []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := kubeletapi.New(kubeletapi.Config{Listener: ln, Cert: cert, ClientCAs: ca.CAPool(), Pods: pods, LogDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = srv.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return int32(ln.Addr().(*net.TCPAddr).Port)
}

func TestNodeProxy(t *testing.T) {
	ca, err := pki.Load(pki.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	kport := startKubelet(t, ca, "remote")
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "other "+r.Method+" "+r.URL.RequestURI()+" auth="+r.Header.Get("Authorization"))
	}))
	defer other.Close()
	_, otherPort, _ := net.SplitHostPort(other.Listener.Addr().String())
	node2 := node("node2", "127.0.0.1", kport)
	node1 := node("node1", "127.0.0.1", 10250)
	n := remoteNodes(t, ca, node1, node2)
	n.RegisterKubelet("node1", kubeletapi.Routes(kubeletapi.Config{Pods: http.HandlerFunc(
		func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, "in-process "+r.URL.RequestURI())
		})}))
	direct := podproxy.New(podproxy.Config{AllowAddress: func(netip.Addr) bool { return true }})
	connect := n.ProxyConnector(direct)
	kp := strconv.Itoa(int(kport))
	tests := []struct {
		name, method, path string
		node               *corev1.Node
		wantCode           int
		want               string // a prefix of the body
	}{
		{"in-process", "GET", "/api/v1/nodes/node1/proxy/pods?x=1", node1, 200, "in-process /pods?x=1"},
		{"in-process healthz by kubelet port", "GET", "/api/v1/nodes/node1:10250/proxy/healthz", node1, 200, "ok"},
		{"remote", "GET", "/api/v1/nodes/node2/proxy/pods", node2, 200, "remote GET /pods auth="},
		{"remote by port, https", "POST", "/api/v1/nodes/https:node2:" + kp + "/proxy/pods", node2, 200, "remote POST /pods auth="},
		{"remote healthz", "GET", "/api/v1/nodes/node2:" + kp + "/proxy/healthz", node2, 200, "ok"},
		{"remote logs", "GET", "/api/v1/nodes/node2/proxy/logs/", node2, 200, "<!doctype html>"},
		{"remote unknown path", "GET", "/api/v1/nodes/node2/proxy/nope", node2, 404, "404 page not found"},
		{"other port", "PUT", "/api/v1/nodes/node2:" + otherPort + "/proxy/x/y?z=1", node2, 200, "other PUT /x/y?z=1 auth="},
		{"no path redirects", "GET", "/api/v1/nodes/node2/proxy", node2, 301, ""},
		{"named port", "GET", "/api/v1/nodes/node2:http/proxy/", node2, 400, "invalid port"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, "https://apiserver"+tc.path, nil)
			r.Header.Set("Authorization", "Bearer secret")
			w := httptest.NewRecorder()
			if err := connect(w, r, tc.node); err != nil {
				var se *apierrors.StatusError
				if !errors.As(err, &se) {
					t.Fatalf("got error %T %v, want a StatusError", err, err)
				}
				w.Code = int(se.ErrStatus.Code)
				w.Body.WriteString(se.ErrStatus.Message)
			}
			if w.Code != tc.wantCode || !strings.HasPrefix(w.Body.String(), tc.want) {
				t.Errorf("got %d %q, want %d %q...", w.Code, w.Body.String(), tc.wantCode, tc.want)
			}
		})
	}
}

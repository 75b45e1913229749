package nodeproxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"

	"github.com/svcnet/svcnet/internal/agent/kubeletapi"
	pf "github.com/svcnet/svcnet/internal/agent/portforward"
	pftest "github.com/svcnet/svcnet/internal/agent/portforward/portforwardtest"
	"github.com/svcnet/svcnet/internal/pki"
	"github.com/svcnet/svcnet/internal/registry"
)

// startAgent runs a kubelet API server on loopback whose handlers stand in
// for the agent's, serving a certificate of ca for 127.0.0.1, and returns
// its port.
func startAgent(t *testing.T, ca *pki.PKI) int32 {
	t.Helper()
	cert, err := ca.IssueKubeletServingCert("node2", []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	return startAgentWithCert(t, ca, cert)
}

// startAgentWithCert is startAgent serving cert.
func startAgentWithCert(t *testing.T, ca *pki.PKI, cert tls.Certificate) int32 {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	logs := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/missing") {
			http.Error(w, "container missing has no log", http.StatusNotFound)
			return
		}
		_, _ = io.WriteString(w, r.URL.String())
	})
	exec := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		up := websocket.Upgrader{Subprotocols: []string{"v5.channel.k8s.io"}}
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		_ = c.WriteMessage(websocket.BinaryMessage, []byte(r.URL.RawQuery+" auth="+r.Header.Get("Authorization")))
	})
	forward := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := pf.Serve(w, r, pf.Config{Pod: "ns/p", Dial: func(ctx context.Context, port uint16) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(int(port))))
		}})
		if errors.Is(err, pf.ErrNotUpgrade) {
			http.Error(w, err.Error(), http.StatusBadRequest)
		}
	})
	srv, err := kubeletapi.New(kubeletapi.Config{Listener: ln, Cert: cert, ClientCAs: ca.CAPool(), Logs: logs, Exec: exec,
		PortForward: forward})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = srv.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return int32(ln.Addr().(*net.TCPAddr).Port)
}

// apiServer serves the connectors of n for pod p as kube-apiserver would,
// writing a returned error as its code and message.
func apiServer(t *testing.T, n *Nodes, p *corev1.Pod) *httptest.Server {
	t.Helper()
	connectors := map[string]registry.Connector{"log": n.LogConnector(), "exec": n.ExecConnector(),
		"portforward": n.PortForwardConnector()}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sub := r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
		if err := connectors[sub](w, r, p); err != nil {
			var se *apierrors.StatusError
			if !errors.As(err, &se) {
				t.Errorf("got error %T %v, want a StatusError", err, err)
				return
			}
			http.Error(w, se.ErrStatus.Message, int(se.ErrStatus.Code))
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func remoteNodes(t *testing.T, ca *pki.PKI, nodes ...*corev1.Node) *Nodes {
	t.Helper()
	cert, err := ca.KubeletClientCert()
	if err != nil {
		t.Fatal(err)
	}
	var n Nodes
	err = n.SetRemote(RemoteConfig{ClientCert: cert, RootCAs: ca.CAPool(), Node: func(_ context.Context, name string) (*corev1.Node, error) {
		for _, node := range nodes {
			if node.Name == name {
				return node, nil
			}
		}
		return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "nodes"}, name)
	}})
	if err != nil {
		t.Fatal(err)
	}
	return &n
}

func node(name, ip string, port int32) *corev1.Node {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if ip != "" {
		n.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeHostName, Address: "host"},
			{Type: corev1.NodeInternalIP, Address: ip}}
	}
	n.Status.DaemonEndpoints.KubeletEndpoint.Port = port
	return n
}

func runningPod(nodeName string, containers ...string) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p"},
		Spec: corev1.PodSpec{NodeName: nodeName}, Status: corev1.PodStatus{Phase: corev1.PodRunning}}
	for _, c := range containers {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: c})
	}
	return p
}

func get(t *testing.T, u string) (int, string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(body))
}

func TestRemoteLogs(t *testing.T) {
	ca, err := pki.Load(pki.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	port := startAgent(t, ca)
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := closed.Addr().(*net.TCPAddr).Port
	closed.Close()
	selfSigned, err := kubeletapi.SelfSignedCert([]string{"127.0.0.1"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	otherName, err := ca.IssueKubeletServingCert("node2", []string{"127.0.0.2"})
	if err != nil {
		t.Fatal(err)
	}
	n := remoteNodes(t, ca, node("node2", "127.0.0.1", port), node("noport", "127.0.0.1", 0),
		node("noaddr", "", port), node("down", "127.0.0.1", int32(closedPort)),
		node("impostor", "127.0.0.1", startAgentWithCert(t, ca, selfSigned)),
		node("elsewhere", "127.0.0.1", startAgentWithCert(t, ca, otherName)))
	inProcess := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "in-process "+r.URL.String())
	})
	n.RegisterLogs("node1", inProcess)
	tests := []struct {
		name     string
		pod      *corev1.Pod
		query    string
		wantCode int
		want     string
	}{
		{"in-process", runningPod("node1", "c"), "follow=true", 200, "in-process /containerLogs/ns/p/c?follow=true&previous="},
		{"remote", runningPod("node2", "c"), "tailLines=3&limitBytes=10&previous=true", 200,
			"/containerLogs/ns/p/c?follow=&limitBytes=10&previous=true&tailLines=3"},
		{"remote error", runningPod("node2", "missing"), "", 404, "container missing has no log"},
		{"unknown node", runningPod("node9", "c"), "", 503, `node "node9" not found`},
		{"no kubelet port", runningPod("noport", "c"), "", 503,
			`node "noport" publishes no kubelet port (status.daemonEndpoints.kubeletEndpoint.port)`},
		{"no address", runningPod("noaddr", "c"), "", 503, `node "noaddr" has no address`},
		{"agent down", runningPod("down", "c"), "", 503,
			fmt.Sprintf(`the agent of node "down" at 127.0.0.1:%d is not reachable: dial tcp 127.0.0.1:%d`, closedPort, closedPort)},
		{"serving certificate not of the cluster CA", runningPod("impostor", "c"), "", 503, `the agent of node "impostor" at 127.0.0.1:`},
		{"serving certificate for another address", runningPod("elsewhere", "c"), "", 503, `the agent of node "elsewhere" at 127.0.0.1:`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := apiServer(t, n, tc.pod)
			code, body := get(t, srv.URL+"/api/v1/namespaces/ns/pods/p/log?"+tc.query)
			if code != tc.wantCode || !strings.HasPrefix(body, tc.want) {
				t.Errorf("got %d %q, want %d %q", code, body, tc.wantCode, tc.want)
			}
		})
	}
}

func TestNoRemote(t *testing.T) {
	var n Nodes
	srv := apiServer(t, &n, runningPod("node2", "c"))
	for _, sub := range []string{"log", "exec?command=ls&stdout=true", "portforward"} {
		code, body := get(t, srv.URL+"/api/v1/namespaces/ns/pods/p/"+sub)
		if want := `no agent of node "node2" is reachable from this API server`; code != 503 || body != want {
			t.Errorf("%s: got %d %q, want 503 %q", sub, code, body, want)
		}
	}
}

func TestRemoteExecUpgrade(t *testing.T) {
	ca, err := pki.Load(pki.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	n := remoteNodes(t, ca, node("node2", "127.0.0.1", startAgent(t, ca)))
	srv := apiServer(t, n, runningPod("node2", "c"))
	d := websocket.Dialer{Subprotocols: []string{"v5.channel.k8s.io"}}
	c, resp, err := d.Dial("ws"+strings.TrimPrefix(srv.URL, "http")+
		"/api/v1/namespaces/ns/pods/p/exec?command=ls&stdout=true", http.Header{"Authorization": {"Bearer secret"}})
	if err != nil {
		t.Fatalf("dial: %v (%v)", err, resp)
	}
	defer c.Close()
	if got, want := c.Subprotocol(), "v5.channel.k8s.io"; got != want {
		t.Errorf("got subprotocol %q, want %q", got, want)
	}
	_, msg, err := c.ReadMessage()
	if want := "command=ls&stderr=false&stdin=false&stdout=true&tty=false auth="; err != nil || string(msg) != want {
		t.Errorf("got %q, %v, want %q", msg, err, want)
	}
}

func TestRemotePortForward(t *testing.T) {
	ca, err := pki.Load(pki.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	n := remoteNodes(t, ca, node("node2", "127.0.0.1", startAgent(t, ca)))
	srv := apiServer(t, n, runningPod("node2", "c"))
	u, _ := url.Parse(srv.URL + "/api/v1/namespaces/ns/pods/p/portforward")
	cfg := &rest.Config{Host: srv.URL}
	echoPort := pftest.EchoServer(t)
	for _, transport := range pftest.Transports {
		t.Run(transport, func(t *testing.T) {
			pftest.Echo(t, pftest.Dialer(t, transport, u, cfg), echoPort, "ping")
		})
	}
}

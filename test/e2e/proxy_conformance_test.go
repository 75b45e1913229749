package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/svcnet/svcnet/test/e2e/framework"
)

// porterApp is the Deployment and Service of upstream's "Proxy version v1
// should proxy through a service and a pod" conformance spec.
const porterApp = `apiVersion: v1
kind: Service
metadata:
  name: proxy-service
spec:
  selector: {proxy-service-target: "true"}
  ports:
  - {name: portname1, port: 80, targetPort: dest1}
  - {name: portname2, port: 81, targetPort: 162}
  - {name: tlsportname1, port: 443, targetPort: tlsdest1}
  - {name: tlsportname2, port: 444, targetPort: 462}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: proxy-service
spec:
  replicas: 1
  strategy: {type: Recreate}
  selector:
    matchLabels: {proxy-service-target: "true"}
  template:
    metadata:
      labels: {proxy-service-target: "true"}
    spec:
      containers:
      - name: porter
        image: registry.k8s.io/e2e-test-images/agnhost:2.53
        command: [/agnhost, porter]
        env:
        - {name: SERVE_PORT_80, value: '<a href="/rewriteme">test</a>'}
        - {name: SERVE_PORT_1080, value: '<a href="/rewriteme">test</a>'}
        - {name: SERVE_PORT_160, value: foo}
        - {name: SERVE_PORT_162, value: bar}
        - {name: SERVE_TLS_PORT_443, value: '<a href="/tlsrewriteme">test</a>'}
        - {name: SERVE_TLS_PORT_460, value: tls baz}
        - {name: SERVE_TLS_PORT_462, value: tls qux}
        ports:
        - {containerPort: 80}
        - {name: dest1, containerPort: 160}
        - {name: dest2, containerPort: 162}
        - {name: tlsdest1, containerPort: 460}
        - {name: tlsdest2, containerPort: 462}
        readinessProbe:
          httpGet: {port: 80}
          periodSeconds: 1
---
apiVersion: v1
kind: Pod
metadata:
  name: agnhost
  labels: {test: response}
spec:
  restartPolicy: Never
  containers:
  - name: agnhost
    image: registry.k8s.io/e2e-test-images/agnhost:2.53
    command: [/agnhost, porter, --json-response]
    env: [{name: SERVE_PORT_80, value: foo}]
---
apiVersion: v1
kind: Service
metadata:
  name: test-service
spec:
  selector: {test: response}
  ports: [{port: 80, targetPort: 80}]
`

// TestProxyConformance requests every URL of upstream's Proxy conformance
// specs ("should proxy through a service and a pod", "A set of valid
// responses are returned for both pod and service ProxyWithPath" and
// "... Proxy") with stock kubectl, and checks the answers they check.
func TestProxyConformance(t *testing.T) {
	n := framework.StartNode(t)
	n.Apply(porterApp)
	pods := waitReady(t, n, "proxy-service-target=true", 1)
	waitReadyEndpoints(t, n, "proxy-service", 1)
	waitReadyEndpoints(t, n, "test-service", 1)
	svcURL := func(scheme, port string) string {
		return "/api/v1/namespaces/default/services/" + joinSchemeNamePort(scheme, "proxy-service", port) + "/proxy"
	}
	podURL := func(scheme, port string) string {
		return "/api/v1/namespaces/default/pods/" + joinSchemeNamePort(scheme, pods[0], port) + "/proxy"
	}
	link := func(u, target string) string { return `<a href="` + u + `/` + target + `">test</a>` }
	t.Run("through a service and a pod", func(t *testing.T) {
		for path, want := range map[string]string{
			svcURL("", "portname1") + "/":         "foo",
			svcURL("http", "portname1") + "/":     "foo",
			svcURL("", "portname2") + "/":         "bar",
			svcURL("http", "portname2") + "/":     "bar",
			svcURL("https", "tlsportname1") + "/": "tls baz",
			svcURL("https", "tlsportname2") + "/": "tls qux",
			podURL("", "") + "/":                  link(podURL("", ""), "rewriteme"),
			podURL("", "1080") + "/":              link(podURL("", "1080"), "rewriteme"),
			podURL("http", "1080") + "/":          link(podURL("http", "1080"), "rewriteme"),
			podURL("", "160") + "/":               "foo",
			podURL("http", "160") + "/":           "foo",
			podURL("", "162") + "/":               "bar",
			podURL("http", "162") + "/":           "bar",
			podURL("https", "443") + "/":          link(podURL("https", "443"), "tlsrewriteme"),
			podURL("https", "460") + "/":          "tls baz",
			podURL("https", "462") + "/":          "tls qux",
		} {
			if out, err := n.Kubectl("get", "--raw", path); err != nil || out != want {
				t.Errorf("%s: got (%q, %v), want %q", path, out, err, want)
			}
		}
	})

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", n.Netns},
		append(n.KubectlArgs(), "proxy", "--port=18002")...)...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); _ = cmd.Wait() }()
	framework.Eventually(t, 30*time.Second, func() error {
		_, err := n.Exec("curl", "-sSf", "--max-time", "3", "http://127.0.0.1:18002/api/v1/namespaces/default/pods/agnhost/proxy/")
		return err
	})
	// request sends method to path through kubectl proxy and returns the
	// status code and body.
	request := func(method, path string) (string, string, error) {
		args := []string{"curl", "-sS", "--max-time", "5", "-X", method, "-o", "-", "-w", "\n%{http_code}"}
		if method == "HEAD" {
			args = []string{"curl", "-sS", "--max-time", "5", "-I", "-o", "/dev/null", "-w", "\n%{http_code}"}
		}
		out, err := n.Exec(append(args, "http://127.0.0.1:18002"+path)...)
		i := strings.LastIndex(out, "\n")
		if i < 0 {
			return "", out, err
		}
		return out[i+1:], out[:i], err
	}
	check := func(t *testing.T, method, path string) {
		code, body, err := request(method, path)
		if err != nil || code != "200" {
			t.Errorf("%s %s: got %s %q, %v, want 200", method, path, code, body, err)
			return
		}
		if method == "HEAD" {
			return
		}
		var got struct{ Method, Body string }
		if err := json.Unmarshal([]byte(body), &got); err != nil || got.Method != method || got.Body != "foo" {
			t.Errorf("%s %s: got %q (%v), want method %s and body foo", method, path, body, err, method)
		}
	}
	t.Run("ProxyWithPath", func(t *testing.T) {
		for _, m := range []string{"DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"} {
			check(t, m, "/api/v1/namespaces/default/pods/agnhost/proxy/some/path/with/"+m)
			check(t, m, "/api/v1/namespaces/default/services/test-service/proxy/some/path/with/"+m)
		}
	})
	t.Run("Proxy", func(t *testing.T) {
		for _, m := range []string{"DELETE", "OPTIONS", "PATCH", "POST", "PUT"} {
			check(t, m, "/api/v1/namespaces/default/pods/agnhost/proxy?method="+m)
			check(t, m, "/api/v1/namespaces/default/services/test-service/proxy?method="+m)
		}
		for _, m := range []string{"GET", "HEAD"} {
			for _, p := range []string{"/api/v1/namespaces/default/pods/agnhost/proxy?method=" + m,
				"/api/v1/namespaces/default/services/test-service/proxy?method=" + m} {
				if code, body, err := request(m, p); code != "301" {
					t.Errorf("%s %s: got %s %q, %v, want 301", m, p, code, body, err)
				}
			}
		}
	})
}

// joinSchemeNamePort is apimachinery's net.JoinSchemeNamePort.
func joinSchemeNamePort(scheme, name, port string) string {
	if scheme != "" {
		return fmt.Sprintf("%s:%s:%s", scheme, name, port)
	}
	if port != "" {
		return name + ":" + port
	}
	return name
}

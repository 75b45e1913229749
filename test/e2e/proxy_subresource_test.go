package e2e

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/svcnet/svcnet/test/e2e/framework"
)

// TestProxySubresources reaches a pod through the API server's pods/proxy
// and services/proxy with stock kubectl: `kubectl get --raw` and `kubectl
// proxy`, in every URL form upstream accepts.
func TestProxySubresources(t *testing.T) {
	n := framework.StartNode(t)
	n.Apply(webService)
	n.Apply(fmt.Sprintf(netexecPod, "web-a"))
	framework.Eventually(t, 60*time.Second, func() error {
		out, err := n.Kubectl("get", "--raw", "/api/v1/namespaces/default/services/web:http/proxy/hostname")
		if err != nil || out != "web-a" {
			return fmt.Errorf("services/proxy got (%q, %v), want web-a", out, err)
		}
		return nil
	})
	for _, tc := range []struct{ path, want string }{
		{"/api/v1/namespaces/default/pods/web-a:8080/proxy/hostname", "web-a"},
		{"/api/v1/namespaces/default/pods/http:web-a:http/proxy/echo?msg=named-port", "named-port"},
		// No port: the pod's first declared container port.
		{"/api/v1/namespaces/default/pods/web-a/proxy/echo?msg=first-port", "first-port"},
		{"/api/v1/namespaces/default/services/web:80/proxy/echo?msg=by-number", "by-number"},
		{"/api/v1/namespaces/default/services/http:web:http/proxy/echo?msg=with-scheme", "with-scheme"},
	} {
		if out, err := n.Kubectl("get", "--raw", tc.path); err != nil || out != tc.want {
			t.Errorf("get --raw %s got (%q, %v), want %q", tc.path, out, err, tc.want)
		}
	}
	if out, err := n.Kubectl("get", "--raw", "/api/v1/namespaces/default/services/web:nope/proxy/"); err == nil ||
		!strings.Contains(out+err.Error(), `no endpoints available for service \"web\"`) &&
			!strings.Contains(out+err.Error(), `no endpoints available for service "web"`) {
		t.Errorf("proxy to a port without endpoints got (%q, %v), want 503 no endpoints available", out, err)
	}

	t.Run("kubectl proxy", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", n.Netns},
			append(n.KubectlArgs(), "proxy", "--port=18001")...)...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { cancel(); _ = cmd.Wait() }()
		framework.Eventually(t, 30*time.Second, func() error {
			out, err := n.Exec("curl", "-sS", "--max-time", "3",
				"http://127.0.0.1:18001/api/v1/namespaces/default/services/web:http/proxy/hostname")
			if err != nil || out != "web-a" {
				return fmt.Errorf("through kubectl proxy got (%q, %v), want web-a", out, err)
			}
			return nil
		})
		out, err := n.Exec("curl", "-sS", "--max-time", "3", "-X", "POST", "-d", "x",
			"http://127.0.0.1:18001/api/v1/namespaces/default/pods/web-a:8080/proxy/echo?msg=posted")
		if err != nil || out != "posted" {
			t.Errorf("POST through kubectl proxy got (%q, %v), want posted", out, err)
		}
	})
}

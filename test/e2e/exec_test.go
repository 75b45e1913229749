package e2e

import (
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/svcnet/svcnet/test/e2e/framework"
)

const execService = `apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports:
  - {name: http, port: 80, targetPort: http}
`

// TestExec runs commands in a pod with stock kubectl exec, which speaks
// the WebSocket remote command protocol (v5.channel.k8s.io).
func TestExec(t *testing.T) {
	n := framework.StartNode(t)
	// The Service exists before the pod so its variables are in the
	// container's environment.
	n.Apply(execService)
	n.Apply(fmt.Sprintf(netexecPod, "web-a"))
	framework.Eventually(t, 60*time.Second, func() error {
		out, err := n.Kubectl("get", "pod", "web-a", "-o", "jsonpath={.status.conditions[?(@.type=='Ready')].status}")
		if err != nil || out != "True" {
			return fmt.Errorf("web-a not Ready: %q %v", out, err)
		}
		return nil
	})
	clusterIP := n.MustKubectl("get", "svc", "web", "-o", "jsonpath={.spec.clusterIP}")

	t.Run("printenv shows service variables", func(t *testing.T) {
		out := n.MustKubectl("exec", "web-a", "--", "printenv")
		for _, want := range []string{"WEB_SERVICE_HOST=" + clusterIP, "WEB_SERVICE_PORT=80", "HOSTNAME=web-a"} {
			if !strings.Contains(out, want+"\n") {
				t.Errorf("printenv lacks %s:\n%s", want, out)
			}
		}
	})
	t.Run("resolv.conf is the pod's", func(t *testing.T) {
		out := n.MustKubectl("exec", "web-a", "--", "cat", "/etc/resolv.conf")
		if !strings.Contains(out, "search default.svc.cluster.local") {
			t.Errorf("got resolv.conf:\n%s\nwant the pod's search path", out)
		}
	})
	t.Run("DNS from inside the pod through the search path", func(t *testing.T) {
		for _, name := range []string{"web", "web.default", "web.default.svc.cluster.local"} {
			framework.Eventually(t, 30*time.Second, func() error {
				out, err := n.Kubectl("exec", "web-a", "--", "getent", "hosts", name)
				if err != nil {
					return err
				}
				if f := strings.Fields(out); len(f) == 0 || f[0] != clusterIP {
					return fmt.Errorf("getent hosts %s: %q, want %s", name, out, clusterIP)
				}
				return nil
			})
		}
	})
	t.Run("in-cluster API access with the pod's token", func(t *testing.T) {
		// What client-go's in-cluster configuration does: the token and CA
		// admission mounted, the kubernetes Service by name.
		const dir = "/var/run/secrets/kubernetes.io/serviceaccount"
		script := `curl -sS --fail-with-body --cacert ` + dir + `/ca.crt -H "Authorization: Bearer $(cat ` + dir + `/token)" ` +
			`https://kubernetes.default.svc/api/v1/namespaces/$(cat ` + dir + `/namespace)/pods/web-a`
		// Its identity alone may do nothing beyond discovery: 403, not 401.
		framework.Eventually(t, 30*time.Second, func() error {
			out, _ := n.Kubectl("exec", "web-a", "--", "sh", "-c", script)
			if !strings.Contains(out, `"code":403`) || !strings.Contains(out, `User \"system:serviceaccount:`) {
				return fmt.Errorf("GET of its own pod without a binding answered %q, want 403", out)
			}
			return nil
		})
		ns, err := n.Kubectl("get", "pod", "web-a", "-o", "jsonpath={.metadata.namespace}")
		if err != nil {
			t.Fatal(err)
		}
		ns = strings.TrimSpace(ns)
		if _, err := n.Kubectl("create", "rolebinding", "default-view", "--clusterrole=view",
			"--serviceaccount="+ns+":default"); err != nil {
			t.Fatal(err)
		}
		framework.Eventually(t, 30*time.Second, func() error {
			out, err := n.Kubectl("exec", "web-a", "--", "sh", "-c", script)
			if err != nil {
				return err
			}
			if !strings.Contains(out, `"name":"web-a"`) {
				return fmt.Errorf("GET of its own pod answered %q", out)
			}
			return nil
		})
		out, _ := n.Kubectl("exec", "web-a", "--", "sh", "-c", strings.Replace(script, "$(cat "+dir+"/token)", "forged", 1))
		if !strings.Contains(out, `"code":401`) {
			t.Errorf("a forged token got %q, want 401", out)
		}
	})
	t.Run("stderr and stdout", func(t *testing.T) {
		out, err := n.Kubectl("exec", "web-a", "--", "sh", "-c", "echo out; echo err >&2")
		if err != nil {
			t.Fatal(err)
		}
		if out != "out\n" {
			t.Errorf("got stdout %q, want %q", out, "out\n")
		}
	})
	exitCases := []struct {
		name string
		cmd  string
		want int
	}{
		{"exit code 3", "exit 3", 3},
		{"command not found", "no-such-command", 127},
	}
	for _, tc := range exitCases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := n.Kubectl("exec", "web-a", "--", "sh", "-c", tc.cmd)
			var ee *exec.ExitError
			if !errors.As(err, &ee) {
				t.Fatalf("got %v, want an exit error", err)
			}
			if got := ee.ExitCode(); got != tc.want {
				t.Errorf("got exit code %d, want %d (%v)", got, tc.want, err)
			}
		})
	}
	t.Run("stdin reaches the command", func(t *testing.T) {
		out := n.MustExec("sh", "-c", "printf 'hello\\nworld\\n' | "+kubectlLine(n)+" exec -i web-a -- wc -l")
		if got := strings.TrimSpace(out); got != "2" {
			t.Errorf("got %q, want 2 lines counted", got)
		}
	})
	t.Run("tty", func(t *testing.T) {
		if _, err := exec.LookPath("script"); err != nil {
			t.Skip("no script(1) to give kubectl a terminal")
		}
		// script(1) runs kubectl on a terminal, so -t is honoured.
		out := n.MustExec("script", "-qec", kubectlLine(n)+" exec -it web-a -- sh -c 'test -t 0 && test -t 1 && echo on-a-tty'",
			"/dev/null")
		if !strings.Contains(out, "on-a-tty") {
			t.Errorf("got %q, want the command to see a terminal", out)
		}
	})
	t.Run("unknown container", func(t *testing.T) {
		_, err := n.Kubectl("exec", "web-a", "-c", "nope", "--", "true")
		if err == nil || !strings.Contains(err.Error(), "container nope is not valid for pod web-a") {
			t.Errorf("got %v, want the invalid container error", err)
		}
	})
}

// kubectlLine is the kubectl command line of n for use in a shell.
func kubectlLine(n *framework.Node) string {
	return strings.Join(n.KubectlArgs(), " ")
}

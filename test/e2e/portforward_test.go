package e2e

import (
	"bufio"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/svcnet/svcnet/test/e2e/framework"
)

// nodePod is an agnhost netexec pod on a given node that also logs a line.
const nodePod = `apiVersion: v1
kind: Pod
metadata:
  name: %[1]s
  labels: {app: %[1]s}
spec:
  nodeName: %[2]s
  containers:
  - name: main
    image: busybox
    command: [sh, -c, "echo hello from %[1]s; echo second line; exec sleep 3600"]
  - name: netexec
    image: registry.k8s.io/e2e-test-images/agnhost:2.53
    args: [netexec, --http-port=8080]
    ports:
    - {name: http, containerPort: 8080}
    readinessProbe:
      httpGet: {path: /readyz, port: 8080}
      periodSeconds: 1
---
apiVersion: v1
kind: Service
metadata:
  name: %[1]s
spec:
  selector: {app: %[1]s}
  ports:
  - {name: http, port: 80, targetPort: http}
`

// forwardingFrom is kubectl port-forward's line naming the local port.
var forwardingFrom = regexp.MustCompile(`Forwarding from 127\.0\.0\.1:(\d+) -> (\d+)`)

// startKubectl runs stock kubectl with args in n's namespace in the
// background and returns its stdout lines; kubectl is stopped at cleanup.
func startKubectl(t *testing.T, n *framework.Node, args ...string) <-chan string {
	t.Helper()
	full := append([]string{"netns", "exec", n.Netns}, strings.Fields(kubectlLine(n))...)
	cmd := exec.Command("ip", append(full, args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 100)
	done := make(chan struct{})
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
		if t.Failed() {
			t.Logf("kubectl %s stderr:\n%s", strings.Join(args, " "), stderr.String())
		}
	})
	go func() {
		defer close(done)
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default: // nobody reads any more
			}
		}
		_ = cmd.Wait()
	}()
	return lines
}

// nextLine returns the next line kubectl printed, failing t when it
// exits or prints nothing for 30s.
func nextLine(t *testing.T, lines <-chan string) string {
	t.Helper()
	select {
	case l, ok := <-lines:
		if !ok {
			t.Fatal("kubectl exited")
		}
		return l
	case <-time.After(30 * time.Second):
		t.Fatal("kubectl printed nothing in 30s")
	}
	return ""
}

// portForward starts stock kubectl port-forward to target (pod/x or svc/x)
// with a random local port for remote, and returns that local port.
func portForward(t *testing.T, n *framework.Node, target, remote string) string {
	t.Helper()
	lines := startKubectl(t, n, "port-forward", "--address", "127.0.0.1", target, ":"+remote)
	for {
		if m := forwardingFrom.FindStringSubmatch(nextLine(t, lines)); m != nil {
			return m[1]
		}
	}
}

// checkForward GETs /hostname through the forwarded local port, from the
// namespace kubectl runs in.
func checkForward(t *testing.T, n *framework.Node, local, wantHost string) {
	t.Helper()
	for i := range 3 { // each request is a new forwarded connection
		out, err := n.Exec("curl", "-s", "-m", "5", "http://127.0.0.1:"+local+"/hostname")
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if got := strings.TrimSpace(out); got != wantHost {
			t.Fatalf("request %d: got hostname %q, want %q", i, got, wantHost)
		}
	}
}

// TestPortForward forwards local ports to a pod with stock kubectl
// port-forward, naming the pod and a Service (kubectl resolves it to a
// pod and the target port).
func TestPortForward(t *testing.T) {
	n := framework.StartNode(t)
	n.Apply(fmt.Sprintf(nodePod, "pf", "node1"))
	waitPodReady(t, n, "pf")
	t.Run("pod", func(t *testing.T) {
		checkForward(t, n, portForward(t, n, "pod/pf", "8080"), "pf")
	})
	t.Run("service", func(t *testing.T) {
		checkForward(t, n, portForward(t, n, "svc/pf", "80"), "pf")
	})
	t.Run("closed port", func(t *testing.T) {
		local := portForward(t, n, "pod/pf", "9999")
		if out, err := n.Exec("curl", "-s", "-m", "5", "http://127.0.0.1:"+local+"/"); err == nil {
			t.Errorf("got %q, want the connection to a closed pod port to fail", out)
		}
	})
}

// TestJoinedNodeStreams reads logs of, runs commands in and forwards a
// port to a pod on a node joined with `svcnet agent`: the server reaches
// that node's agent over the network.
func TestJoinedNodeStreams(t *testing.T) {
	lan := framework.NewLAN(t)
	server := framework.StartServer(t, lan, "172.30.0.1")
	framework.StartAgent(t, lan, "172.30.0.2", "node2", server)
	if got := server.MustKubectl("get", "node", "node2", "-o",
		"jsonpath={.status.daemonEndpoints.kubeletEndpoint.Port}"); got != "10250" {
		t.Errorf("got kubelet port %q, want 10250", got)
	}
	server.Apply(fmt.Sprintf(nodePod, "remote", "node2"))
	waitPodReady(t, server, "remote")

	t.Run("logs", func(t *testing.T) {
		framework.Eventually(t, 30*time.Second, func() error {
			out, err := server.Kubectl("logs", "remote", "-c", "main")
			if err != nil {
				return err
			}
			if out != "hello from remote\nsecond line\n" {
				return fmt.Errorf("got logs %q", out)
			}
			return nil
		})
		out, err := server.Kubectl("logs", "remote", "-c", "main", "--tail", "1")
		if err != nil || out != "second line\n" {
			t.Errorf("got tail %q, %v, want %q", out, err, "second line\n")
		}
	})
	t.Run("logs follow", func(t *testing.T) {
		lines := startKubectl(t, server, "logs", "-f", "remote", "-c", "main")
		for _, want := range []string{"hello from remote", "second line"} {
			if got := nextLine(t, lines); got != want {
				t.Errorf("got %q, want %q", got, want)
			}
		}
	})
	t.Run("exec", func(t *testing.T) {
		out, err := server.Kubectl("exec", "remote", "-c", "main", "--", "sh", "-c", "echo out; hostname; exit 0")
		if err != nil {
			t.Fatal(err)
		}
		if out != "out\nremote\n" {
			t.Errorf("got %q, want %q", out, "out\nremote\n")
		}
		_, err = server.Kubectl("exec", "remote", "-c", "main", "--", "sh", "-c", "exit 4")
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 4 {
			t.Errorf("got %v, want exit code 4", err)
		}
	})
	t.Run("exec stdin", func(t *testing.T) {
		out, err := server.Exec("sh", "-c", "printf 'a\\nb\\nc\\n' | "+kubectlLine(server)+" exec -i remote -c main -- wc -l")
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.TrimSpace(out); got != "3" {
			t.Errorf("got %q, want 3 lines counted", got)
		}
	})
	t.Run("port-forward", func(t *testing.T) {
		checkForward(t, server, portForward(t, server, "pod/remote", "8080"), "remote")
	})
	t.Run("unknown container", func(t *testing.T) {
		_, err := server.Kubectl("logs", "remote", "-c", "nope")
		if err == nil || !strings.Contains(err.Error(), "container nope is not valid for pod remote") {
			t.Errorf("got %v, want the invalid container error", err)
		}
	})
}

// waitPodReady waits for pod name to be Ready.
func waitPodReady(t *testing.T, n *framework.Node, name string) {
	t.Helper()
	framework.Eventually(t, 90*time.Second, func() error {
		out, err := n.Kubectl("get", "pod", name, "-o", "jsonpath={.status.conditions[?(@.type=='Ready')].status}")
		if err != nil || out != "True" {
			return fmt.Errorf("%s not Ready: %q %v", name, out, err)
		}
		return nil
	})
}

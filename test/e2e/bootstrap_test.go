package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/svcnet/svcnet/test/e2e/framework"
)

// TestBootstrapToken joins a node with a bootstrap token made by
// `svcnet token create`: the agent gets its own certificates through
// CSRs, serves logs with a serving certificate the API server verifies,
// and keeps working across a restart after the token was deleted (it no
// longer needs it); the deleted token joins no one.
func TestBootstrapToken(t *testing.T) {
	lan := framework.NewLAN(t)
	server := framework.StartServer(t, lan, "172.30.0.1")
	svcnet := framework.Binary(t)
	kubeconfig := []string{"--kubeconfig", server.Kubeconfig()}
	out := server.MustExec(append([]string{svcnet, "token", "create", "--ttl", "1h", "--description", "e2e"}, kubeconfig...)...)
	token := strings.TrimSpace(out)
	if !strings.HasPrefix(token, "K10") || !strings.Contains(token, "::") {
		t.Fatalf("svcnet token create printed %q, want a join token", out)
	}
	id := token[strings.Index(token, "::")+2:][:6]
	if list := server.MustExec(append([]string{svcnet, "token", "list"}, kubeconfig...)...); !strings.Contains(list, id) ||
		!strings.Contains(list, "e2e") {
		t.Errorf("svcnet token list:\n%s", list)
	}
	node := framework.StartAgent(t, lan, "172.30.0.2", "node2", server, "--token", token)
	csrs := server.MustKubectl("get", "csr")
	for _, want := range []string{"kubernetes.io/kube-apiserver-client-kubelet", "system:bootstrap:" + id, "Approved,Issued"} {
		if !strings.Contains(csrs, want) {
			t.Errorf("kubectl get csr has no %q:\n%s", want, csrs)
		}
	}
	// The kubelet API answers the API server with a certificate it
	// verifies: the serving CSR was approved for the node's address.
	server.Apply(`apiVersion: v1
kind: Pod
metadata: {name: talker}
spec:
  nodeName: node2
  containers:
  - {name: c, image: busybox, command: [sh, -c, "echo hello from node2; sleep 3600"]}
`)
	framework.Eventually(t, 60*time.Second, func() error {
		out, err := server.Kubectl("logs", "talker")
		if err != nil {
			return err
		}
		if !strings.Contains(out, "hello from node2") {
			return fmt.Errorf("logs %q", out)
		}
		return nil
	})
	server.MustExec(append([]string{svcnet, "token", "delete", id}, kubeconfig...)...)
	node.Kill()
	node.Restart()
	if out, err := server.Kubectl("logs", "talker"); err != nil || !strings.Contains(out, "hello from node2") {
		t.Errorf("after the token was deleted and the agent restarted: logs %q %v", out, err)
	}
	// The deleted token joins no one.
	other := framework.NewHost(t, lan, "172.30.0.3")
	if out, err := other.Exec(svcnet, "agent", "--server", "https://172.30.0.1:6443", "--token", token,
		"--node-ip", "172.30.0.3", "--node-name", "node3", "--data-dir", t.TempDir(), "--disable", "dns,proxy"); err == nil ||
		!strings.Contains(out+err.Error(), "Unauthorized") {
		t.Errorf("joining with a deleted token: %v %s, want Unauthorized", err, out)
	}
}

package framework

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"
)

// StartAPIServer runs `svcnet server` with the control plane only (no
// agent, proxy or DNS), a stand-in for any Kubernetes API server, at ip on
// lan, and waits until it is ready.
func StartAPIServer(t testing.TB, lan *LAN, ip string, extraArgs ...string) *Node {
	t.Helper()
	n := newNode(t, lan, ip)
	n.name = "api"
	n.start(n.serverArgs(append([]string{"--disable", "agent,proxy,dns"}, extraArgs...)))
	Eventually(t, 60*time.Second, func() error {
		if err := n.exited(); err != nil {
			return err
		}
		_, err := n.Kubectl("get", "--raw", "/readyz")
		return err
	})
	return n
}

// StartDropIn runs `svcnet agent --kubeconfig` named name at ip on lan
// against api, with the admin kubeconfig pointed at api's address: the
// node components in place of kube-proxy and CoreDNS on a node registered
// by someone else. extraArgs follow (e.g. --disable agent).
func StartDropIn(t testing.TB, lan *LAN, ip, name string, api *Node, extraArgs ...string) *Node {
	t.Helper()
	cfg, err := clientcmd.LoadFromFile(api.kubeconfig)
	if err != nil {
		t.Fatalf("load %s: %v", api.kubeconfig, err)
	}
	for _, c := range cfg.Clusters {
		c.Server = "https://" + api.ip + ":6443"
	}
	n := newNode(t, lan, ip)
	n.name = name
	kubeconfig := filepath.Join(n.DataDir, "remote-kubeconfig.yaml")
	if err := clientcmd.WriteToFile(*cfg, kubeconfig); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(kubeconfig, 0o600); err != nil {
		t.Fatal(err)
	}
	n.start(append([]string{"agent", "--kubeconfig", kubeconfig, "--hostname-override", name,
		"--data-dir", n.DataDir}, extraArgs...))
	return n
}

// Run starts the svcnet binary with args in the node's namespace in the
// background (e.g. `agnhost netexec` on a host); it is stopped at cleanup.
func (n *Node) Run(args ...string) {
	n.t.Helper()
	n.start(args)
}

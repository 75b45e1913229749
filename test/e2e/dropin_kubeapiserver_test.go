package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/svcnet/svcnet/test/e2e/framework"
)

// kubeDNSService is the kube-dns Service kubeadm makes in place of
// CoreDNS's deployment; svcnet's DNS publishes each node as one of its
// endpoints.
const kubeDNSService = `apiVersion: v1
kind: Service
metadata:
  name: kube-dns
  namespace: kube-system
  labels: {k8s-app: kube-dns}
spec:
  selector: {k8s-app: kube-dns}
  clusterIP: 10.96.0.10
  ports:
  - {name: dns, port: 53, protocol: UDP}
  - {name: dns-tcp, port: 53, protocol: TCP}
`

// TestDropInKubeAPIServer runs `svcnet agent --kubeconfig --disable agent`
// against upstream kube-apiserver (hack/build-e2e.sh kube-apiserver), with
// the least-privilege RBAC of docs/drop-in.md and a ServiceAccount token as
// its only credential, on a node registered as a kubelet would: a Service
// and its EndpointSlice answer on ClusterIP and NodePort, DNS answers the
// Service's name on the node address and on the kube-dns ClusterIP, and a
// Service without endpoints refuses connections.
func TestDropInKubeAPIServer(t *testing.T) {
	rbac := dropInRBAC(t)
	lan := framework.NewLAN(t)
	api := framework.StartKubeAPIServer(t, lan, "172.30.0.1")
	var version struct{ GitVersion string }
	if err := json.Unmarshal([]byte(api.MustKubectl("get", "--raw", "/version")), &version); err != nil {
		t.Fatal(err)
	}
	t.Logf("kube-apiserver %s with %s", version.GitVersion, api.EtcdVersion)
	backend := framework.NewHost(t, lan, "172.30.0.50")
	backend.Run("agnhost", "netexec", "--http-port=8080", "--udp-port=-1")

	api.Apply(rbac)
	api.Apply(dropInObjects + "---\n" + kubeDNSService)
	api.MustKubectl("patch", "node", "dropin", "--subresource=status", "--type=merge", "-p",
		`{"status":{"addresses":[{"type":"InternalIP","address":"172.30.0.2"}]}}`)
	const sa = "system:serviceaccount:kube-system:svcnet-node"
	for _, q := range []struct{ verb, resource, want string }{
		{"watch", "endpointslices.discovery.k8s.io", "yes"},
		{"list", "secrets", "no"},
		{"create", "services", "no"},
		{"update", "endpointslices.discovery.k8s.io", "no"}, // outside kube-system
	} {
		// can-i exits 1 on "no"; its answer is on stdout either way.
		out, _ := api.Kubectl("auth", "can-i", q.verb, q.resource, "-n", "default", "--as", sa)
		if got := strings.TrimSpace(out); got != q.want {
			t.Errorf("can the agent %s %s in default? got %q, want %q", q.verb, q.resource, got, q.want)
		}
	}
	token := strings.TrimSpace(api.MustKubectl("-n", "kube-system", "create", "token", "svcnet-node", "--duration", "1h"))
	kubeconfig := api.RemoteKubeconfig(t.TempDir(), token)
	node := framework.StartAgentWithKubeconfig(t, lan, "172.30.0.2", "dropin", kubeconfig, "--disable", "agent")

	clusterIP := api.MustKubectl("get", "svc", "web", "-o", "jsonpath={.spec.clusterIP}")
	for _, url := range []string{"http://" + clusterIP + "/hostname", "http://172.30.0.2:30080/hostname"} {
		framework.Eventually(t, 60*time.Second, func() error {
			out, err := node.Exec("curl", "-sS", "--max-time", "2", url)
			if err != nil || strings.TrimSpace(out) == "" {
				return fmt.Errorf("%s: %q %v", url, out, err)
			}
			return nil
		})
	}
	for _, server := range []string{"172.30.0.2", "10.96.0.10"} {
		framework.Eventually(t, 60*time.Second, func() error {
			out, err := node.Exec("dig", "+short", "+time=2", "+tries=1", "@"+server, "web.default.svc.cluster.local")
			if err != nil || strings.TrimSpace(out) != clusterIP {
				return fmt.Errorf("dig @%s: %q %v, want %s", server, out, err, clusterIP)
			}
			return nil
		})
	}
	emptyIP := api.MustKubectl("get", "svc", "empty", "-o", "jsonpath={.spec.clusterIP}")
	framework.Eventually(t, 30*time.Second, func() error {
		// curl's exit status 7 is a refused connection (a timeout is 28).
		out, err := node.Exec("curl", "-sS", "--max-time", "2", "http://"+emptyIP+"/")
		if err == nil || !strings.Contains(err.Error(), "exit status 7") {
			return fmt.Errorf("a Service without endpoints: %q %v, want the connection refused", out, err)
		}
		return nil
	})
	for _, url := range []string{"http://127.0.0.1:10249/metrics", "http://172.30.0.2:10256/healthz"} {
		if out, err := node.Exec("curl", "-sS", "--fail", "--max-time", "2", url); err != nil {
			t.Errorf("%s: %q %v", url, out, err)
		}
	}
	if out := node.Output(); strings.Contains(out, "forbidden") {
		t.Errorf("the agent was refused something with the RBAC of docs/drop-in.md:\n%s", out)
	}
}

// dropInRBAC returns the RBAC manifest of docs/drop-in.md (the YAML block
// under "Permissions it needs"), so the page and the test cannot drift.
func dropInRBAC(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../docs/drop-in.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(b), "## Permissions it needs")
	if !ok {
		t.Fatal(`docs/drop-in.md: no "## Permissions it needs" section`)
	}
	_, after, ok = strings.Cut(after, "```yaml\n")
	if !ok {
		t.Fatal("docs/drop-in.md: no YAML block under Permissions it needs")
	}
	manifest, _, ok := strings.Cut(after, "```")
	if !ok {
		t.Fatal("docs/drop-in.md: unterminated YAML block")
	}
	return manifest
}

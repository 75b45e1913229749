package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/svcnet/svcnet/test/e2e/framework"
)

// The objects a kubelet and a controller manager would have made: the
// drop-in node's Node, and a Service whose EndpointSlice points at a
// backend host on the LAN.
const dropInObjects = `apiVersion: v1
kind: Node
metadata: {name: dropin}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  type: NodePort
  ports: [{name: http, port: 80, targetPort: 8080, nodePort: 30080}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: web-1
  labels: {kubernetes.io/service-name: web, endpointslice.kubernetes.io/managed-by: e2e}
addressType: IPv4
endpoints: [{addresses: [172.30.0.50], conditions: {ready: true}}]
ports: [{name: http, port: 8080, protocol: TCP}]
---
apiVersion: v1
kind: Service
metadata: {name: empty}
spec:
  ports: [{port: 80}]
`

// TestDropIn runs `svcnet agent --kubeconfig --disable agent` against an
// API server it did not join (svcnet's control plane alone, standing in
// for any Kubernetes API server), on a node registered by someone else,
// as a replacement for kube-proxy and CoreDNS: a Service and its
// EndpointSlice answer on ClusterIP and NodePort, DNS answers the name,
// a Service without endpoints refuses connections, and kube-proxy's
// metrics and healthz ports answer.
func TestDropIn(t *testing.T) {
	lan := framework.NewLAN(t)
	api := framework.StartAPIServer(t, lan, "172.30.0.1")
	backend := framework.NewHost(t, lan, "172.30.0.50")
	backend.Run("agnhost", "netexec", "--http-port=8080", "--udp-port=-1")
	api.Apply(dropInObjects)
	api.MustKubectl("patch", "node", "dropin", "--subresource=status", "--type=merge", "-p",
		`{"status":{"addresses":[{"type":"InternalIP","address":"172.30.0.2"}]}}`)
	node := framework.StartDropIn(t, lan, "172.30.0.2", "dropin", api, "--disable", "agent")
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
	framework.Eventually(t, 30*time.Second, func() error {
		out, err := node.Exec("dig", "+short", "+time=2", "+tries=1", "@172.30.0.2", "web.default.svc.cluster.local")
		if err != nil || strings.TrimSpace(out) != clusterIP {
			return fmt.Errorf("dig: %q %v, want %s", out, err, clusterIP)
		}
		return nil
	})
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
}

package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/svcnet/svcnet/test/e2e/framework"
)

const netexecPod = `apiVersion: v1
kind: Pod
metadata:
  name: %[1]s
  labels: {app: web}
spec:
  nodeName: node1
  containers:
  - name: netexec
    image: registry.k8s.io/e2e-test-images/agnhost:2.53
    args: [netexec, --http-port=8080, --udp-port=8081]
    ports:
    - {name: http, containerPort: 8080}
    - {name: udp, containerPort: 8081, protocol: UDP}
    readinessProbe:
      httpGet: {path: /readyz, port: 8080}
      periodSeconds: 1
`

const webService = `apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  type: LoadBalancer
  selector: {app: web}
  ports:
  - {name: http, port: 80, targetPort: http}
`

// TestServiceTrafficEndToEnd runs the whole path on one node: pods as
// processes with their own IPs, EndpointSlices, nftables rules and DNS.
func TestServiceTrafficEndToEnd(t *testing.T) {
	n := framework.StartNode(t, "--loadbalancer-ip-pool", "172.30.0.240/28")
	n.Apply(fmt.Sprintf(netexecPod, "web-a") + "---\n" + fmt.Sprintf(netexecPod, "web-b") + "---\n" + webService)
	framework.Eventually(t, 60*time.Second, func() error {
		out, err := n.Kubectl("get", "endpointslices", "-l", "kubernetes.io/service-name=web",
			"-o", "jsonpath={.items[*].endpoints[?(@.conditions.ready==true)].addresses[0]}")
		if err != nil {
			return err
		}
		if got := len(strings.Fields(out)); got != 2 {
			return fmt.Errorf("ready endpoints %q, want 2", out)
		}
		return nil
	})
	clusterIP := n.MustKubectl("get", "svc", "web", "-o", "jsonpath={.spec.clusterIP}")
	nodePort := n.MustKubectl("get", "svc", "web", "-o", "jsonpath={.spec.ports[0].nodePort}")

	t.Run("ClusterIP reaches every pod", func(t *testing.T) {
		seen := map[string]bool{}
		framework.Eventually(t, 30*time.Second, func() error {
			out, err := n.Exec("curl", "-s", "-m", "2", "http://"+clusterIP+"/hostname")
			if err != nil {
				return err
			}
			seen[strings.TrimSpace(out)] = true
			if !seen["web-a"] || !seen["web-b"] {
				return fmt.Errorf("hostnames seen %v, want web-a and web-b", seen)
			}
			return nil
		})
	})
	t.Run("NodePort on the node address", func(t *testing.T) {
		framework.Eventually(t, 30*time.Second, func() error {
			out, err := n.Exec("curl", "-s", "-m", "2", "http://"+framework.NodeIP+":"+nodePort+"/hostname")
			if err != nil {
				return err
			}
			if h := strings.TrimSpace(out); h != "web-a" && h != "web-b" {
				return fmt.Errorf("got %q, want a pod hostname", h)
			}
			return nil
		})
	})
	t.Run("LoadBalancer IP from the pool", func(t *testing.T) {
		var lbIP string
		framework.Eventually(t, 30*time.Second, func() error {
			lbIP = n.MustKubectl("get", "svc", "web", "-o", "jsonpath={.status.loadBalancer.ingress[0].ip}")
			if !strings.HasPrefix(lbIP, "172.30.0.24") && !strings.HasPrefix(lbIP, "172.30.0.25") {
				return fmt.Errorf("ingress IP %q, want one of 172.30.0.240/28", lbIP)
			}
			return nil
		})
		if out := n.MustKubectl("get", "svc", "web"); !strings.Contains(out, lbIP) {
			t.Errorf("kubectl get svc does not show EXTERNAL-IP %s:\n%s", lbIP, out)
		}
		framework.Eventually(t, 30*time.Second, func() error {
			out, err := n.Exec("curl", "-s", "-m", "2", "http://"+lbIP+"/hostname")
			if err != nil {
				return err
			}
			if h := strings.TrimSpace(out); h != "web-a" && h != "web-b" {
				return fmt.Errorf("got %q, want a pod hostname", h)
			}
			return nil
		})
	})
	t.Run("DNS name resolves to the ClusterIP", func(t *testing.T) {
		framework.Eventually(t, 30*time.Second, func() error {
			out, err := n.Exec("dig", "+short", "+time=2", "+tries=1", "@10.96.0.10", "web.default.svc.cluster.local")
			if err != nil {
				return err
			}
			if strings.TrimSpace(out) != clusterIP {
				return fmt.Errorf("got %q, want %s", out, clusterIP)
			}
			return nil
		})
	})
	t.Run("DNS metrics and health", func(t *testing.T) {
		framework.Eventually(t, 30*time.Second, func() error {
			out, err := n.Exec("curl", "-s", "-m", "2", "http://"+framework.NodeIP+":9153/metrics")
			if err != nil {
				return err
			}
			if !strings.Contains(out, "svcnet_dns_requests_total") {
				return fmt.Errorf("metrics lack svcnet_dns_requests_total")
			}
			_, err = n.Exec("curl", "-sf", "-m", "2", "http://"+framework.NodeIP+":9153/ready")
			return err
		})
	})
	t.Run("kubectl logs shows the container output", func(t *testing.T) {
		framework.Eventually(t, 30*time.Second, func() error {
			out, err := n.Kubectl("logs", "web-a")
			if err != nil {
				return err
			}
			if !strings.Contains(out, "Started HTTP server on port 8080") {
				return fmt.Errorf("logs lack netexec's start line:\n%s", out)
			}
			return nil
		})
	})
	t.Run("a deleted pod leaves the rotation", func(t *testing.T) {
		n.MustKubectl("delete", "pod", "web-b", "--wait=false")
		framework.Eventually(t, 60*time.Second, func() error {
			for i := 0; i < 10; i++ {
				out, err := n.Exec("curl", "-s", "-m", "2", "http://"+clusterIP+"/hostname")
				if err != nil {
					return err
				}
				if strings.TrimSpace(out) != "web-a" {
					return fmt.Errorf("got %q after web-b was deleted", out)
				}
			}
			return nil
		})
	})
	t.Run("no endpoints rejects at once", func(t *testing.T) {
		n.MustKubectl("delete", "pod", "web-a", "--wait=false")
		framework.Eventually(t, 60*time.Second, func() error {
			_, err := n.Exec("curl", "-s", "-m", "2", "http://"+clusterIP+"/hostname")
			if err == nil || !strings.Contains(err.Error(), "exit status 7") { // 7: connection refused
				return fmt.Errorf("got %v, want connection refused", err)
			}
			return nil
		})
	})
}

package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/svcnet/svcnet/test/e2e/framework"
)

const selfPod = `apiVersion: v1
kind: Pod
metadata:
  name: self
  labels: {app: self}
spec:
  nodeName: node1
  containers:
  - name: netexec
    image: registry.k8s.io/e2e-test-images/agnhost:2.53
    args: [netexec, --http-port=8080]
    ports: [{name: http, containerPort: 8080}]
    readinessProbe:
      httpGet: {path: /readyz, port: 8080}
      periodSeconds: 1
---
apiVersion: v1
kind: Service
metadata:
  name: self
spec:
  selector: {app: self}
  ports: [{port: 80, targetPort: http}]
`

// TestHairpinToSelf has a pod reach itself through its own Service, of
// which it is the only endpoint, with bridge netfilter on (the default
// of every network namespace once br_netfilter is loaded): the DNATed
// packet leaves the bridge by the port it came in on, which the bridge
// allows only in hairpin mode. Every proxy mode must pass.
func TestHairpinToSelf(t *testing.T) {
	for _, mode := range []string{"nftables", "iptables", "userspace"} {
		t.Run(mode, func(t *testing.T) {
			n := framework.StartNode(t, "--proxy-mode", mode)
			// The sysctl exists only with br_netfilter; modprobe is a
			// no-op where it is built in or loaded already. Without it
			// bridged packets skip netfilter and the bug cannot happen.
			_, _ = n.Exec("modprobe", "br_netfilter")
			if _, err := n.Exec("test", "-e", "/proc/sys/net/bridge/bridge-nf-call-iptables"); err != nil {
				t.Skip("no br_netfilter on this kernel: bridged packets never see the DNAT")
			}
			n.MustExec("sysctl", "-q", "-w", "net.bridge.bridge-nf-call-iptables=1")
			if got := strings.TrimSpace(n.MustExec("cat", "/proc/sys/net/bridge/bridge-nf-call-iptables")); got != "1" {
				t.Fatalf("bridge-nf-call-iptables is %q, want 1", got)
			}
			n.Apply(selfPod)
			waitReadyEndpoints(t, n, "self", 1)
			clusterIP := n.MustKubectl("get", "svc", "self", "-o", "jsonpath={.spec.clusterIP}")
			framework.Eventually(t, 30*time.Second, func() error {
				out, err := n.Kubectl("exec", "self", "--", "curl", "-s", "-m", "2", "http://"+clusterIP+"/hostname")
				if err != nil {
					return err
				}
				if got := strings.TrimSpace(out); got != "self" {
					return fmt.Errorf("got %q, want self", got)
				}
				return nil
			})
		})
	}
}

// waitReadyEndpoints waits until Service svc has want ready endpoints.
func waitReadyEndpoints(t *testing.T, n *framework.Node, svc string, want int) {
	t.Helper()
	framework.Eventually(t, 60*time.Second, func() error {
		out, err := n.Kubectl("get", "endpointslices", "-l", "kubernetes.io/service-name="+svc,
			"-o", "jsonpath={.items[*].endpoints[?(@.conditions.ready==true)].addresses[0]}")
		if err != nil {
			return err
		}
		if got := len(strings.Fields(out)); got != want {
			return fmt.Errorf("ready endpoints of %s %q, want %d", svc, out, want)
		}
		return nil
	})
}

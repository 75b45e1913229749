package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/svcnet/svcnet/test/e2e/framework"
)

const spreadDeployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: spread
spec:
  replicas: 2
  selector:
    matchLabels: {app: spread}
  template:
    metadata:
      labels: {app: spread}
    spec:
      containers:
      - name: netexec
        image: registry.k8s.io/e2e-test-images/agnhost:2.53
        args: [netexec, --http-port=8080]
        ports: [{containerPort: 8080}]
---
apiVersion: v1
kind: Service
metadata:
  name: spread
spec:
  type: NodePort
  selector: {app: spread}
  ports: [{port: 80, targetPort: 8080}]
`

// TestTwoNodes joins a second machine with `svcnet agent`, spreads a
// Deployment over both nodes and reaches every pod through the ClusterIP
// from the first node (cross-node pod routes) and through the NodePort of
// the second node.
func TestTwoNodes(t *testing.T) {
	lan := framework.NewLAN(t)
	server := framework.StartServer(t, lan, "172.30.0.1")
	framework.StartAgent(t, lan, "172.30.0.2", "node2", server)
	server.Apply(spreadDeployment)
	pods := waitReady(t, server, "app=spread", 2)
	nodes := map[string]bool{}
	for _, p := range pods {
		nodes[server.MustKubectl("get", "pod", p, "-o", "jsonpath={.spec.nodeName}")] = true
	}
	if !nodes["node1"] || !nodes["node2"] {
		t.Fatalf("pods on nodes %v, want one on node1 and one on node2", nodes)
	}
	clusterIP := server.MustKubectl("get", "svc", "spread", "-o", "jsonpath={.spec.clusterIP}")
	nodePort := server.MustKubectl("get", "svc", "spread", "-o", "jsonpath={.spec.ports[0].nodePort}")
	seen := map[string]bool{}
	framework.Eventually(t, 60*time.Second, func() error {
		out, err := server.Exec("curl", "-s", "-m", "2", "http://"+clusterIP+"/hostname")
		if err != nil {
			return err
		}
		seen[strings.TrimSpace(out)] = true
		for _, p := range pods {
			if !seen[p] {
				return fmt.Errorf("hostnames seen %v, want %v", seen, pods)
			}
		}
		return nil
	})
	framework.Eventually(t, 60*time.Second, func() error {
		out, err := server.Exec("curl", "-s", "-m", "2", "http://172.30.0.2:"+nodePort+"/hostname")
		if err != nil {
			return err
		}
		if h := strings.TrimSpace(out); h != pods[0] && h != pods[1] {
			return fmt.Errorf("NodePort on node2 answered %q", h)
		}
		return nil
	})
}

package e2e

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/svcnet/svcnet/test/e2e/framework"
)

const nodeAgentDaemonSet = `apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: node-agent
spec:
  selector:
    matchLabels: {app: node-agent}
  template:
    metadata:
      labels: {app: node-agent}
    spec:
      terminationGracePeriodSeconds: 5
      containers:
      - name: netexec
        image: registry.k8s.io/e2e-test-images/agnhost:2.53
        args: [netexec, --http-port=8080]
        ports: [{containerPort: 8080}]
`

// daemonPods returns "node=image" of each ready pod of the DaemonSet,
// sorted, and the pods' names and IPs.
func daemonPods(n *framework.Node) ([]string, map[string]string, error) {
	out, err := n.Kubectl("get", "pods", "-l", "app=node-agent", "-o",
		`jsonpath={range .items[*]}{.metadata.name} {.spec.nodeName} {.spec.containers[0].image} {.status.podIP} {.status.conditions[?(@.type=="Ready")].status} {.metadata.deletionTimestamp}{"\n"}{end}`)
	if err != nil {
		return nil, nil, err
	}
	var placed []string
	ips := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		if len(f) != 5 || f[4] != "True" { // not ready, or terminating
			continue
		}
		placed = append(placed, f[1]+"="+f[2])
		ips[f[0]] = f[3]
	}
	sort.Strings(placed)
	return placed, ips, nil
}

// TestDaemonSet runs a DaemonSet on a two-node cluster: a pod on each node
// (bound there by the controller's node affinity), Ready and answering,
// `kubectl rollout status` through an image update that reaches both
// nodes, and deletion removing the pods.
func TestDaemonSet(t *testing.T) {
	lan := framework.NewLAN(t)
	server := framework.StartServer(t, lan, "172.30.0.1")
	framework.StartAgent(t, lan, "172.30.0.2", "node2", server)
	server.Apply(nodeAgentDaemonSet)

	const image = "registry.k8s.io/e2e-test-images/agnhost:2.53"
	want := fmt.Sprint([]string{"node1=" + image, "node2=" + image})
	var ips map[string]string
	framework.Eventually(t, 120*time.Second, func() error {
		placed, podIPs, err := daemonPods(server)
		if err != nil {
			return err
		}
		if fmt.Sprint(placed) != want {
			return fmt.Errorf("ready daemon pods %v, want %s", placed, want)
		}
		ips = podIPs
		return nil
	})
	for pod, ip := range ips {
		framework.Eventually(t, 30*time.Second, func() error {
			out, err := server.Exec("curl", "-s", "-m", "2", "http://"+ip+":8080/hostname")
			if err != nil || strings.TrimSpace(out) != pod {
				return fmt.Errorf("pod %s at %s answered %q (%v)", pod, ip, out, err)
			}
			return nil
		})
	}
	if out := server.MustKubectl("rollout", "status", "ds/node-agent", "--timeout=60s"); !strings.Contains(out, `daemon set "node-agent" successfully rolled out`) {
		t.Errorf("rollout status: %s", out)
	}
	if f := strings.Fields(server.MustKubectl("get", "ds", "node-agent", "--no-headers")); len(f) < 7 || strings.Join(f[1:7], " ") != "2 2 2 2 2 <none>" {
		t.Errorf("kubectl get ds: %v, want 2 desired, current, ready, up-to-date and available", f)
	}

	// An image update rolls to both nodes (the one-at-a-time budget is
	// checked by the controller's tests).
	const image2 = "registry.k8s.io/e2e-test-images/agnhost:2.54"
	server.MustKubectl("set", "image", "ds/node-agent", "netexec="+image2)
	if out := server.MustKubectl("rollout", "status", "ds/node-agent", "--timeout=150s"); !strings.Contains(out, `daemon set "node-agent" successfully rolled out`) {
		t.Errorf("rollout status after set image: %s", out)
	}
	want2 := fmt.Sprint([]string{"node1=" + image2, "node2=" + image2})
	framework.Eventually(t, 60*time.Second, func() error {
		placed, _, err := daemonPods(server)
		if err != nil {
			return err
		}
		if fmt.Sprint(placed) != want2 {
			return fmt.Errorf("ready daemon pods %v, want %s", placed, want2)
		}
		return nil
	})
	if out := server.MustKubectl("rollout", "history", "ds/node-agent"); !strings.Contains(out, "\n1 ") || !strings.Contains(out, "\n2 ") {
		t.Errorf("rollout history lacks revisions 1 and 2:\n%s", out)
	}

	server.MustKubectl("delete", "ds", "node-agent")
	framework.Eventually(t, 90*time.Second, func() error {
		out, err := server.Kubectl("get", "pods", "-l", "app=node-agent", "-o", "name")
		if err != nil {
			return err
		}
		if out = strings.TrimSpace(out); out != "" {
			return fmt.Errorf("pods left after deleting the DaemonSet: %s", out)
		}
		return nil
	})
}

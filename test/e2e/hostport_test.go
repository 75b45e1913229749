package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/svcnet/svcnet/test/e2e/framework"
)

// hostPortPod is upstream's HostPort conformance pod: netexec on 8080
// (TCP and UDP) published on hostPort 54323 of hostIP with protocol.
const hostPortPod = `apiVersion: v1
kind: Pod
metadata:
  name: %[1]s
spec:
  %[4]s
  containers:
  - name: agnhost
    image: registry.k8s.io/e2e-test-images/agnhost:2.53
    args: [netexec, --http-port=8080, --udp-port=8080]
    ports: [{containerPort: 8080, hostPort: 54323, hostIP: "%[2]s", protocol: %[3]s}]
    readinessProbe:
      httpGet: {path: /hostname, port: 8080}
      periodSeconds: 1
`

// hostExecPod is the spec's client: agnhost on the host network.
const hostExecPod = `apiVersion: v1
kind: Pod
metadata:
  name: e2e-host-exec
spec:
  hostNetwork: true
  nodeName: node1
  containers:
  - name: e2e-host-exec
    image: registry.k8s.io/e2e-test-images/agnhost:2.53
`

// TestHostPort follows upstream's "HostPort validates that there is no
// conflict between pods with same hostPort but different hostIP and
// protocol": three pods share hostPort 54323 on one node (127.0.0.1/TCP,
// nodeIP/TCP, nodeIP/UDP) and each is reached there, also from another
// machine on the LAN; a fourth asking for 54323/TCP on every address
// stays unscheduled.
func TestHostPort(t *testing.T) {
	lan := framework.NewLAN(t)
	n := framework.StartServer(t, lan, framework.NodeIP)
	client := framework.NewHost(t, lan, "172.30.0.9")
	nodeName := "nodeName: node1"
	n.Apply(fmt.Sprintf(hostPortPod, "pod1", "127.0.0.1", "TCP", nodeName) + "---\n" +
		fmt.Sprintf(hostPortPod, "pod2", framework.NodeIP, "TCP", nodeName) + "---\n" +
		fmt.Sprintf(hostPortPod, "pod3", framework.NodeIP, "UDP", nodeName) + "---\n" + hostExecPod)
	framework.Eventually(t, 90*time.Second, func() error {
		out, err := n.Kubectl("get", "pods", "-o",
			`jsonpath={range .items[*]}{.metadata.name}={.status.conditions[?(@.type=="Ready")].status} {end}`)
		if err != nil {
			return err
		}
		if got := strings.Fields(out); strings.Join(got, " ") != "e2e-host-exec=True pod1=True pod2=True pod3=True" {
			return fmt.Errorf("pods %q, want e2e-host-exec and pod1..3 Ready", out)
		}
		return nil
	})
	t.Run("the hostNetwork pod has the node's address", func(t *testing.T) {
		if ip := n.MustKubectl("get", "pod", "e2e-host-exec", "-o", "jsonpath={.status.podIP}"); ip != framework.NodeIP {
			t.Errorf("podIP %q, want %s", ip, framework.NodeIP)
		}
		want, _ := os.Hostname()
		if got := strings.TrimSpace(n.MustKubectl("exec", "e2e-host-exec", "--", "hostname")); got != want {
			t.Errorf("hostname %q, want the node's %q", got, want)
		}
	})
	// UDP is checked with nc (Debian netcat-openbsd, which .ci/run installs).
	_, ncErr := exec.LookPath("nc")
	// The spec's commands, run in the hostNetwork pod with kubectl exec.
	for _, tc := range []struct{ name, cmd, want string }{
		{"spec: pod1 from the host network", "curl -g --connect-timeout 5 --interface " + framework.NodeIP +
			" http://127.0.0.1:54323/hostname", "pod1"},
		{"spec: pod2 from the host network", "curl -g --connect-timeout 5 http://" + framework.NodeIP + ":54323/hostname", "pod2"},
		{"spec: pod3 from the host network", "nc -vuz -w 5 " + framework.NodeIP + " 54323", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if strings.HasPrefix(tc.cmd, "nc ") && ncErr != nil {
				t.Skip("no nc:", ncErr)
			}
			framework.Eventually(t, 30*time.Second, func() error {
				out, err := n.Kubectl("exec", "e2e-host-exec", "--", "/bin/sh", "-c", tc.cmd)
				if err != nil {
					return err
				}
				if got := strings.TrimSpace(out); tc.want != "" && got != tc.want {
					return fmt.Errorf("got %q, want %s", got, tc.want)
				}
				return nil
			})
		})
	}
	tests := []struct {
		name string
		on   *framework.Node
		cmd  []string
		want string
	}{
		{"pod1 on 127.0.0.1 from the node", n,
			[]string{"curl", "-sS", "-m", "5", "--interface", framework.NodeIP, "http://127.0.0.1:54323/hostname"}, "pod1"},
		{"pod1 on 127.0.0.1 from a loopback source", n,
			[]string{"curl", "-sS", "-m", "5", "http://127.0.0.1:54323/hostname"}, "pod1"},
		{"pod2 on the node IP from the node", n,
			[]string{"curl", "-sS", "-m", "5", "http://" + framework.NodeIP + ":54323/hostname"}, "pod2"},
		{"pod2 on the node IP from the LAN", client,
			[]string{"curl", "-sS", "-m", "5", "http://" + framework.NodeIP + ":54323/hostname"}, "pod2"},
		{"pod3 on the node IP over UDP", client,
			[]string{"sh", "-c", "echo hostname | nc -u -w 2 " + framework.NodeIP + " 54323"}, "pod3"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if strings.Contains(strings.Join(tc.cmd, " "), "| nc ") && ncErr != nil {
				t.Skip("no nc:", ncErr)
			}
			framework.Eventually(t, 30*time.Second, func() error {
				out, err := tc.on.Exec(tc.cmd...)
				if err != nil {
					return err
				}
				if got := strings.TrimSpace(out); got != tc.want {
					return fmt.Errorf("got %q, want %s", got, tc.want)
				}
				return nil
			})
		})
	}
	t.Run("a conflicting pod stays unscheduled", func(t *testing.T) {
		n.Apply(fmt.Sprintf(hostPortPod, "pod4", "", "TCP", ""))
		framework.Eventually(t, 30*time.Second, func() error {
			out, err := n.Kubectl("get", "pod", "pod4", "-o",
				`jsonpath={.spec.nodeName}/{.status.conditions[?(@.type=="PodScheduled")].message}`)
			if err != nil {
				return err
			}
			if !strings.HasPrefix(out, "/0/1 nodes are available: 1 node(s) didn't have free ports for the requested pod ports") {
				return fmt.Errorf("pod4: got %q, want unscheduled for its host port", out)
			}
			return nil
		})
	})
	t.Run("resynced after a restart", func(t *testing.T) {
		// pod2 is deleted while no agent runs: its port must go, pod1's
		// and pod3's stay.
		n.Kill()
		n.RestartServer("--disable", "agent")
		n.MustKubectl("delete", "pod", "pod2", "--grace-period=0", "--force", "--wait=false")
		n.Kill()
		n.RestartServer()
		framework.Eventually(t, 60*time.Second, func() error {
			out, err := n.Exec("nft", "list", "chain", "ip", "svcnet-hostports", "hostports")
			if err != nil {
				return err
			}
			if strings.Count(out, "dnat to") != 2 || strings.Contains(out, "ip daddr "+framework.NodeIP+" tcp dport 54323") {
				return fmt.Errorf("host port rules after the restart:\n%s\nwant pod1's and pod3's only", out)
			}
			return nil
		})
		if out, err := n.Exec("curl", "-sS", "-m", "5", "--interface", framework.NodeIP, "http://127.0.0.1:54323/hostname"); err != nil || out != "pod1" {
			t.Errorf("pod1 after the restart: got %q, %v", out, err)
		}
		if out, err := client.Exec("curl", "-sS", "-m", "2", "http://"+framework.NodeIP+":54323/hostname"); err == nil {
			t.Errorf("pod2's host port after its deletion answered %q, want no answer", out)
		}
	})
}

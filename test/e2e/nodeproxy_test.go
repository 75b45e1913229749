package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/svcnet/svcnet/test/e2e/framework"
)

// TestNodesProxy reaches the agents' kubelet API through nodes/proxy with
// stock kubectl, in the URL forms upstream's conformance specs use: the
// server's own node (in-process) and a joined node (over HTTPS with the
// kubelet-client certificate), with and without the kubelet port.
func TestNodesProxy(t *testing.T) {
	lan := framework.NewLAN(t)
	server := framework.StartServer(t, lan, "172.30.0.1")
	framework.StartAgent(t, lan, "172.30.0.2", "node2", server)
	server.Apply(strings.ReplaceAll(fmt.Sprintf(netexecPod, "web-a"), "nodeName: node1", "nodeName: node2"))
	framework.Eventually(t, 60*time.Second, func() error {
		out, err := server.Kubectl("get", "pod", "web-a", "-o", "jsonpath={.status.phase}")
		if err != nil || out != "Running" {
			return fmt.Errorf("web-a %q, %v, want Running", out, err)
		}
		return nil
	})
	for _, node := range []string{"node1", "node2"} {
		for _, tc := range []struct{ path, want string }{
			{"/api/v1/nodes/" + node + "/proxy/healthz", "ok"},
			{"/api/v1/nodes/" + node + ":10250/proxy/healthz", "ok"},
			{"/api/v1/nodes/https:" + node + ":10250/proxy/healthz", "ok"},
			{"/api/v1/nodes/" + node + "/proxy/logs/", "<pre>"},
			{"/api/v1/nodes/" + node + ":10250/proxy/logs/", "<pre>"},
			{"/api/v1/nodes/" + node + "/proxy/pods", `"kind":"PodList"`},
		} {
			t.Run(strings.TrimPrefix(tc.path, "/api/v1/nodes/"), func(t *testing.T) {
				out, err := server.Kubectl("get", "--raw", tc.path)
				if err != nil || !strings.Contains(out, tc.want) {
					t.Errorf("got (%.200q, %v), want %q in it", out, err, tc.want)
				}
			})
		}
	}
	t.Run("node2's pods", func(t *testing.T) {
		var list struct {
			Items []struct {
				Metadata struct{ Name string }
			}
		}
		out := server.MustKubectl("get", "--raw", "/api/v1/nodes/node2/proxy/pods")
		if err := json.Unmarshal([]byte(out), &list); err != nil {
			t.Fatal(err)
		}
		if len(list.Items) != 1 || list.Items[0].Metadata.Name != "web-a" {
			t.Errorf("got %+v, want web-a alone", list.Items)
		}
	})
	t.Run("node2's log directory lists the pod's namespace", func(t *testing.T) {
		out := server.MustKubectl("get", "--raw", "/api/v1/nodes/node2/proxy/logs/")
		if !strings.Contains(out, `href="default/"`) {
			t.Errorf("got %q, want the default/ directory", out)
		}
	})
}

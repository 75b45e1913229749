package integration

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/svcnet/svcnet/test/integration/framework"
)

// The seeds' external service: a selectorless Service with hand-written
// Endpoints, mirrored into an EndpointSlice.
const externalService = `apiVersion: v1
kind: Service
metadata:
  name: external-http-service
spec:
  ports:
    - name: http
      port: 80
      protocol: TCP
---
apiVersion: v1
kind: Endpoints
metadata:
  name: external-http-service
subsets:
  - addresses:
      - ip: 192.168.3.215
    ports:
      - name: http
        port: 80
        protocol: TCP
`

func TestSelectorlessServiceIsMirrored(t *testing.T) {
	ts := framework.Start(t, framework.Options{Modify: withControllers})
	ts.MustKubectl(t, "", externalService, "apply", "-f", "-")
	mirrored := func(want string) {
		t.Helper()
		framework.Eventually(t, 15*time.Second, func() error {
			out := ts.MustKubectl(t, "", "", "get", "endpointslices", "-l",
				discoveryv1.LabelServiceName+"=external-http-service", "-o",
				"jsonpath={.items[*].endpoints[*].addresses[0]}/{.items[*].metadata.labels.endpointslice\\.kubernetes\\.io/managed-by}")
			if out != want {
				return fmt.Errorf("got %q, want %q", out, want)
			}
			return nil
		})
	}
	mirrored("192.168.3.215/endpointslicemirroring-controller.k8s.io")
	ts.MustKubectl(t, "", "", "patch", "endpoints", "external-http-service", "--type=json", "-p",
		`[{"op":"replace","path":"/subsets/0/addresses/0/ip","value":"192.168.3.216"}]`)
	mirrored("192.168.3.216/endpointslicemirroring-controller.k8s.io")
	ts.MustKubectl(t, "", "", "delete", "endpoints", "external-http-service")
	mirrored("/")
}

func TestEndpointsFollowPods(t *testing.T) {
	ts := framework.Start(t, framework.Options{Modify: withControllers})
	ctx := context.Background()
	if _, err := ts.Client.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-a"}},
		metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.Client.CoreV1().Services("default").Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "nginx"},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"run": "my-nginx"},
			Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(80)}}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	runningPod(t, ts, "default", "nginx-1", "node-a", "10.244.0.21", true, map[string]string{"run": "my-nginx"}, 80)
	runningPod(t, ts, "default", "nginx-2", "node-a", "10.244.0.22", false, map[string]string{"run": "my-nginx"}, 80)
	framework.Eventually(t, 15*time.Second, func() error {
		out := ts.MustKubectl(t, "", "", "get", "endpoints", "nginx")
		if !strings.Contains(out, "10.244.0.21:80") || strings.Contains(out, "10.244.0.22") {
			return fmt.Errorf("want only the ready pod in ENDPOINTS:\n%s", out)
		}
		nr := ts.MustKubectl(t, "", "", "get", "endpoints", "nginx", "-o", "jsonpath={.subsets[0].notReadyAddresses[0].ip}")
		if nr != "10.244.0.22" {
			return fmt.Errorf("notReadyAddresses: got %q, want 10.244.0.22", nr)
		}
		return nil
	})
	// kube-apiserver 1.33 warns on every v1 Endpoints request.
	_, err := ts.Kubectl(t, "", "", "get", "endpoints", "nginx", "--warnings-as-errors")
	if want := "v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("get endpoints --warnings-as-errors: got %v, want the warning %q", err, want)
	}
}

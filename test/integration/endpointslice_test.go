package integration

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/svcnet/svcnet/internal/server"
	"github.com/svcnet/svcnet/test/integration/framework"
)

// withControllers runs the controllers but no node components.
func withControllers(c *server.Config) { c.Disable = []string{"agent", "dns", "proxy"} }

// runningPod creates a pod on node and reports it Running with ip, ready
// or not, as an agent would.
func runningPod(t *testing.T, ts *framework.TestServer, ns, name, node, ip string, ready bool, labels map[string]string, port int32) {
	t.Helper()
	ctx := context.Background()
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Spec: corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "c", Image: "agnhost",
			Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: port}}}}}}
	created, err := ts.Client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	setPodReady(t, ts, created, ip, ready)
}

func setPodReady(t *testing.T, ts *framework.TestServer, pod *corev1.Pod, ip string, ready bool) {
	t.Helper()
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	framework.Eventually(t, 10*time.Second, func() error {
		cur, err := ts.Client.CoreV1().Pods(pod.Namespace).Get(context.Background(), pod.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		cur.Status.Phase = corev1.PodRunning
		cur.Status.PodIP, cur.Status.PodIPs = ip, []corev1.PodIP{{IP: ip}}
		cur.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: status}}
		_, err = ts.Client.CoreV1().Pods(pod.Namespace).UpdateStatus(context.Background(), cur, metav1.UpdateOptions{})
		return err
	})
}

// sliceEndpoints returns "ip:port ready" strings over every slice of svc.
func sliceEndpoints(ts *framework.TestServer, ns, svc string) ([]string, int, error) {
	list, err := ts.Client.DiscoveryV1().EndpointSlices(ns).List(context.Background(),
		metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=" + svc})
	if err != nil {
		return nil, 0, err
	}
	var out []string
	for _, s := range list.Items {
		for _, ep := range s.Endpoints {
			for _, p := range s.Ports {
				out = append(out, fmt.Sprintf("%s:%d ready=%v", ep.Addresses[0], *p.Port,
					ep.Conditions.Ready != nil && *ep.Conditions.Ready))
			}
		}
	}
	sort.Strings(out)
	return out, len(list.Items), nil
}

func TestEndpointSlicesFollowPods(t *testing.T) {
	ts := framework.Start(t, framework.Options{Modify: withControllers})
	ctx := context.Background()
	ns := "default"
	if _, err := ts.Client.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-a"}},
		metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err := ts.Client.CoreV1().Services(ns).Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"},
			Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromString("http")}}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	expect := func(want ...string) {
		t.Helper()
		framework.Eventually(t, 15*time.Second, func() error {
			got, slices, err := sliceEndpoints(ts, ns, "web")
			if err != nil {
				return err
			}
			if slices == 0 {
				return fmt.Errorf("no EndpointSlice yet")
			}
			if strings.Join(got, ",") != strings.Join(want, ",") {
				return fmt.Errorf("got %v, want %v", got, want)
			}
			return nil
		})
	}
	expect() // an empty slice for a selector that matches nothing
	labels := map[string]string{"app": "web", "extra": "label"}
	runningPod(t, ts, ns, "web-1", "node-a", "10.244.0.11", true, labels, 8080)
	expect("10.244.0.11:8080 ready=true")
	// A second pod uses another number for the same port name.
	runningPod(t, ts, ns, "web-2", "node-a", "10.244.0.12", true, labels, 9090)
	expect("10.244.0.11:8080 ready=true", "10.244.0.12:9090 ready=true")
	pod, err := ts.Client.CoreV1().Pods(ns).Get(ctx, "web-1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	setPodReady(t, ts, pod, "10.244.0.11", false)
	expect("10.244.0.11:8080 ready=false", "10.244.0.12:9090 ready=true")
	// Blue/green: a selector change empties the slice at once.
	ts.MustKubectl(t, "", "", "patch", "svc", "web", "-p", `{"spec":{"selector":{"app":"green"}}}`)
	expect()
	if err := ts.Client.CoreV1().Services(ns).Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, 15*time.Second, func() error {
		if _, n, err := sliceEndpoints(ts, ns, "web"); err != nil || n != 0 {
			return fmt.Errorf("slices left: %d (%v)", n, err)
		}
		return nil
	})
}

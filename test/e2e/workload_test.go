package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/svcnet/svcnet/test/e2e/framework"
)

// The seeds' nginx Deployment; image nginx runs svcnet's built-in server
// on the declared containerPort.
const myNginx = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: my-nginx
spec:
  selector:
    matchLabels:
      run: my-nginx
  replicas: 2
  template:
    metadata:
      labels:
        run: my-nginx
    spec:
      containers:
      - name: my-nginx
        image: nginx
        ports:
        - containerPort: 80
`

// The seeds' headless Service with its StatefulSet.
const statefulApp = `apiVersion: v1
kind: Service
metadata:
  name: headless-service
spec:
  clusterIP: None
  selector:
    app: stateful-app
  ports:
    - port: 80
      name: http
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: stateful-app
spec:
  serviceName: "headless-service"
  replicas: 3
  selector:
    matchLabels:
      app: stateful-app
  template:
    metadata:
      labels:
        app: stateful-app
    spec:
      containers:
        - name: app-container
          image: nginx
          ports:
            - containerPort: 80
`

func runningPods(n *framework.Node, selector string) ([]string, error) {
	out, err := n.Kubectl("get", "pods", "-l", selector, "-o",
		`jsonpath={range .items[*]}{.metadata.name}={.status.phase}/{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}`)
	if err != nil {
		return nil, err
	}
	var ready []string
	for _, line := range strings.Fields(out) {
		if strings.HasSuffix(line, "=Running/True") {
			ready = append(ready, strings.TrimSuffix(line, "=Running/True"))
		}
	}
	return ready, nil
}

func waitReady(t *testing.T, n *framework.Node, selector string, want int) []string {
	t.Helper()
	var pods []string
	framework.Eventually(t, 90*time.Second, func() error {
		var err error
		if pods, err = runningPods(n, selector); err != nil {
			return err
		}
		if len(pods) != want {
			return fmt.Errorf("ready pods %v, want %d", pods, want)
		}
		return nil
	})
	return pods
}

// TestSeedNginxWorkflow follows the seeds' "connecting applications with
// Services" story: deploy, expose, reach by ClusterIP and DNS, scale.
func TestSeedNginxWorkflow(t *testing.T) {
	n := framework.StartNode(t)
	n.Apply(myNginx)
	pods := waitReady(t, n, "run=my-nginx", 2)
	if out := n.MustKubectl("get", "pods", "-l", "run=my-nginx", "-o", "wide"); !strings.Contains(out, "10.244.") {
		t.Errorf("get pods -o wide lacks pod IPs:\n%s", out)
	}
	n.MustKubectl("expose", "deployment/my-nginx")
	svc := n.MustKubectl("get", "svc", "my-nginx")
	if !strings.Contains(svc, "80/TCP") {
		t.Errorf("get svc my-nginx:\n%s", svc)
	}
	clusterIP := n.MustKubectl("get", "svc", "my-nginx", "-o", "jsonpath={.spec.clusterIP}")
	framework.Eventually(t, 30*time.Second, func() error {
		out := n.MustKubectl("describe", "svc", "my-nginx")
		for _, p := range pods {
			ip := n.MustKubectl("get", "pod", p, "-o", "jsonpath={.status.podIP}")
			if !strings.Contains(out, ip+":80") {
				return fmt.Errorf("describe svc lacks endpoint %s:80:\n%s", ip, out)
			}
		}
		return nil
	})
	framework.Eventually(t, 30*time.Second, func() error {
		out, err := n.Exec("curl", "-s", "-m", "2", "http://"+clusterIP+"/")
		if err != nil {
			return err
		}
		if h := strings.TrimSpace(out); h != pods[0] && h != pods[1] {
			return fmt.Errorf("got %q, want one of %v", h, pods)
		}
		return nil
	})
	framework.Eventually(t, 30*time.Second, func() error {
		out, err := n.Exec("dig", "+short", "+time=2", "+tries=1", "@10.96.0.10", "my-nginx.default.svc.cluster.local")
		if err != nil || strings.TrimSpace(out) != clusterIP {
			return fmt.Errorf("dig: %q %v, want %s", out, err, clusterIP)
		}
		return nil
	})
	// Self-healing: a deleted pod is replaced.
	n.MustKubectl("delete", "pod", pods[0], "--wait=false")
	framework.Eventually(t, 90*time.Second, func() error {
		now, err := runningPods(n, "run=my-nginx")
		if err != nil {
			return err
		}
		for _, p := range now {
			if p == pods[0] {
				return fmt.Errorf("deleted pod %s still ready", p)
			}
		}
		if len(now) != 2 {
			return fmt.Errorf("ready pods %v, want 2", now)
		}
		return nil
	})
	n.MustKubectl("scale", "deployment", "my-nginx", "--replicas=0")
	waitReady(t, n, "run=my-nginx", 0)
	n.MustKubectl("scale", "deployment", "my-nginx", "--replicas=2")
	waitReady(t, n, "run=my-nginx", 2)
	// A rolling update completes, and undo goes back to the first template.
	n.MustKubectl("set", "image", "deployment/my-nginx", "my-nginx=nginx:1.27")
	if out := n.MustKubectl("rollout", "status", "deployment/my-nginx", "--timeout=90s"); !strings.Contains(out, "successfully rolled out") {
		t.Errorf("rollout status: %s", out)
	}
	n.MustKubectl("rollout", "undo", "deployment/my-nginx")
	n.MustKubectl("rollout", "status", "deployment/my-nginx", "--timeout=90s")
	if img := n.MustKubectl("get", "deployment", "my-nginx", "-o", "jsonpath={.spec.template.spec.containers[0].image}"); img != "nginx" {
		t.Errorf("after undo image %q, want nginx", img)
	}
	waitReady(t, n, "run=my-nginx", 2)
}

// TestSeedHeadlessStatefulSet checks the per-pod DNS names a headless
// Service gives a StatefulSet.
func TestSeedHeadlessStatefulSet(t *testing.T) {
	n := framework.StartNode(t)
	n.Apply(statefulApp)
	pods := waitReady(t, n, "app=stateful-app", 3)
	if strings.Join(pods, ",") != "stateful-app-0,stateful-app-1,stateful-app-2" {
		t.Errorf("pods %v, want stateful-app-0..2", pods)
	}
	ip := n.MustKubectl("get", "pod", "stateful-app-1", "-o", "jsonpath={.status.podIP}")
	framework.Eventually(t, 30*time.Second, func() error {
		out, err := n.Exec("dig", "+short", "+time=2", "+tries=1", "@10.96.0.10",
			"stateful-app-1.headless-service.default.svc.cluster.local")
		if err != nil || strings.TrimSpace(out) != ip {
			return fmt.Errorf("dig: %q %v, want %s", out, err, ip)
		}
		out, err = n.Exec("dig", "+short", "+time=2", "+tries=1", "@10.96.0.10", "headless-service.default.svc.cluster.local")
		if err != nil || len(strings.Fields(out)) != 3 {
			return fmt.Errorf("headless A records %q %v, want 3", out, err)
		}
		return nil
	})
}

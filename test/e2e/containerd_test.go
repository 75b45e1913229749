package e2e

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/svcnet/svcnet/test/e2e/framework"
	testimages "github.com/svcnet/svcnet/test/images"
)

// webImage is the image TestContainerd builds and serves from the node's
// loopback registry: busybox with a page of its own, served by httpd.
const webImage = "docker.io/svcnet/e2e-web:v1"

// containerdPods are the pods of TestContainerd.
const containerdPods = `apiVersion: v1
kind: Pod
metadata:
  name: web
  labels: {app: web}
spec:
  containers:
  - name: web
    image: ` + webImage + `
    imagePullPolicy: Always
    ports: [{containerPort: 8080, hostPort: 18080}]
    readinessProbe:
      httpGet: {path: /index.html, port: 8080}
      periodSeconds: 1
---
apiVersion: v1
kind: Service
metadata:
  name: site
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Pod
metadata:
  name: user
spec:
  securityContext: {runAsUser: 1000, runAsGroup: 3000}
  containers:
  - name: main
    image: docker.io/library/busybox:latest
    command: [sh, -c, 'echo hello from $(id -u); exec sleep 3600']
---
apiVersion: v1
kind: Pod
metadata:
  name: nonroot
spec:
  containers:
  - name: main
    image: docker.io/library/busybox:latest
    command: [sleep, "3600"]
    securityContext: {runAsNonRoot: true}
---
apiVersion: v1
kind: Pod
metadata:
  name: missing
spec:
  containers:
  - name: main
    image: docker.io/svcnet/does-not-exist:v1
---
apiVersion: v1
kind: Pod
metadata:
  name: sidecar
spec:
  initContainers:
  - name: helper
    image: docker.io/library/busybox:latest
    restartPolicy: Always
    command: [httpd, -f, -p, "8081", -h, /etc]
    readinessProbe:
      tcpSocket: {port: 8081}
      periodSeconds: 1
  - name: uses-helper
    image: docker.io/library/busybox:latest
    command: [wget, -qO-, http://127.0.0.1:8081/hostname]
  containers:
  - name: main
    image: docker.io/library/busybox:latest
    command: [sleep, "3600"]
---
apiVersion: v1
kind: Pod
metadata:
  name: crash
spec:
  containers:
  - name: main
    image: docker.io/library/busybox:latest
    command: [sh, -c, 'echo run at $(date +%s%N); exit 3']
---
apiVersion: v1
kind: Pod
metadata:
  name: hog
spec:
  restartPolicy: Never
  containers:
  - name: main
    image: docker.io/library/busybox:latest
    # dd's 64 MiB buffer, filled, does not fit under the 32Mi limit. The
    # pause first: containerd 1.6's shim watches the cgroup for OOM kills
    # only a moment after the task starts, and reports an earlier one as
    # Error (exit code 137).
    command: [sh, -c, 'sleep 3; exec dd if=/dev/zero of=/dev/null bs=64M count=4']
    resources:
      limits: {memory: 32Mi}
`

// TestContainerd runs pods as containers of a real containerd (its CNI
// plugins making their network) pulling images that the test builds and
// serves from a registry on the node's loopback: the image's own file
// served through a Service, a hostPort and the pod's own Service (hairpin),
// kubectl exec inside the image, which cannot see the host's files,
// runAsUser, runAsNonRoot refused, kubectl logs, ErrImagePull and an
// OOMKilled container.
func TestContainerd(t *testing.T) {
	framework.RequireContainerd(t)
	page := fmt.Sprintf("svcnet e2e page %d\n", time.Now().UnixNano())
	imgs := framework.TestImages(t)
	web, err := testimages.FromFiles(imgs[testimages.Busybox], map[string]testimages.File{
		"/www/index.html": testimages.Text(page, 0o644)},
		&v1.Config{Cmd: []string{"httpd", "-f", "-p", "8080", "-h", "/www"}, Env: []string{"PATH=/bin"}})
	if err != nil {
		t.Fatal(err)
	}
	imgs[webImage] = web
	lan := framework.NewLAN(t)
	n := framework.StartServerWithContainerd(t, lan, framework.NodeIP, imgs)
	client := framework.NewHost(t, lan, "172.30.0.9")
	secret := fmt.Sprintf("/tmp/svcnet-e2e-host-file-%d", time.Now().UnixNano())
	if err := os.WriteFile(secret, []byte("host only\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Remove(secret) })
	n.Apply(containerdPods)
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := n.Kubectl("get", "pods", "-o", "yaml")
			t.Logf("pods:\n%s", out)
		}
	})

	waitReadyEndpoints(t, n, "site", 1)
	clusterIP := strings.TrimSpace(n.MustKubectl("get", "service", "site", "-o", "jsonpath={.spec.clusterIP}"))
	t.Run("image's own file through the Service", func(t *testing.T) {
		framework.Eventually(t, 30*time.Second, func() error {
			return wantOutput(n.Exec("curl", "-sS", "--max-time", "2", "http://"+clusterIP+"/index.html"))(page)
		})
	})
	t.Run("hostPort from another machine", func(t *testing.T) {
		framework.Eventually(t, 30*time.Second, func() error {
			return wantOutput(client.Exec("curl", "-sS", "--max-time", "2", "http://"+framework.NodeIP+":18080/index.html"))(page)
		})
	})
	t.Run("pod reaches its own Service", func(t *testing.T) {
		framework.Eventually(t, 30*time.Second, func() error {
			return wantOutput(n.Kubectl("exec", "web", "--", "wget", "-qO-", "http://site/index.html"))(page)
		})
	})
	t.Run("exec inside the image, not the host", func(t *testing.T) {
		if err := wantOutput(n.Kubectl("exec", "web", "--", "cat", "/www/index.html"))(page); err != nil {
			t.Fatal(err)
		}
		out, err := n.Kubectl("exec", "web", "--", "cat", secret)
		if err == nil || strings.Contains(out, "host only") {
			t.Fatalf("the pod read the host's %s: %q, %v", secret, out, err)
		}
		if _, err := n.Kubectl("exec", "web", "--", "sh", "-c", "exit 3"); err == nil ||
			!strings.Contains(err.Error(), "exit code 3") {
			t.Fatalf("exit code of exec not passed on: %v", err)
		}
	})
	t.Run("runAsUser and logs", func(t *testing.T) {
		framework.Eventually(t, 60*time.Second, func() error {
			return wantOutput(n.Kubectl("logs", "user"))("hello from 1000")
		})
		if err := wantOutput(n.Kubectl("exec", "user", "--", "id", "-g"))("3000"); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("containers outlive svcnet and are re-adopted", func(t *testing.T) {
		id := func() (string, error) {
			return n.Kubectl("get", "pod", "web", "-o",
				"jsonpath={.status.containerStatuses[0].containerID} {.status.containerStatuses[0].restartCount} {.status.containerStatuses[0].ready}")
		}
		before, err := id()
		if err != nil || !strings.HasPrefix(before, "containerd://") || !strings.HasSuffix(before, " 0 true") {
			t.Fatalf("web before the restart: %q, %v", before, err)
		}
		n.Kill()
		// The container serves on while no svcnet runs.
		if err := wantOutput(client.Exec("curl", "-sS", "--max-time", "2", "http://"+framework.NodeIP+":18080/index.html"))(page); err != nil {
			t.Fatalf("with svcnet killed: %v", err)
		}
		n.Restart()
		waitReadyEndpoints(t, n, "site", 1)
		if after, err := id(); err != nil || after != before {
			t.Fatalf("web after the restart: %q, %v; want the same container %q", after, err, before)
		}
		framework.Eventually(t, 30*time.Second, func() error {
			return wantOutput(n.Exec("curl", "-sS", "--max-time", "2", "http://"+clusterIP+"/index.html"))(page)
		})
	})
	waiting := func(pod string) func() (string, error) {
		return func() (string, error) {
			return n.Kubectl("get", "pod", pod, "-o", "jsonpath={.status.containerStatuses[0].state.waiting.reason}")
		}
	}
	t.Run("runAsNonRoot refused", func(t *testing.T) {
		framework.Eventually(t, 60*time.Second, func() error {
			return wantOutput(waiting("nonroot")())("CreateContainerConfigError")
		})
	})
	t.Run("ErrImagePull", func(t *testing.T) {
		framework.Eventually(t, 60*time.Second, func() error {
			out, err := waiting("missing")()
			if err != nil || (out != "ErrImagePull" && out != "ImagePullBackOff") {
				return fmt.Errorf("waiting reason %q, %v", out, err)
			}
			return nil
		})
	})
	t.Run("sidecar runs beside the init container after it and the containers", func(t *testing.T) {
		framework.Eventually(t, 60*time.Second, func() error {
			return wantOutput(n.Kubectl("get", "pod", "sidecar", "-o", "jsonpath={.status.phase} "+
				"{.status.initContainerStatuses[0].ready} {.status.initContainerStatuses[0].state.running.startedAt} "+
				"{.status.initContainerStatuses[1].state.terminated.reason} {.status.conditions[?(@.type=='Ready')].status}"))("Running true 20")
		})
		framework.Eventually(t, 30*time.Second, func() error {
			return wantOutput(n.Kubectl("get", "pod", "sidecar", "-o", "jsonpath={.status.initContainerStatuses[1].state.terminated.reason} "+
				"{.status.conditions[?(@.type=='Ready')].status}"))("Completed True")
		})
	})
	t.Run("CrashLoopBackOff, lastState and logs --previous", func(t *testing.T) {
		framework.Eventually(t, 60*time.Second, func() error {
			return wantOutput(n.Kubectl("get", "pod", "crash", "-o", "jsonpath={.status.containerStatuses[0].restartCount} "+
				"{.status.containerStatuses[0].lastState.terminated.exitCode} {.status.containerStatuses[0].lastState.terminated.reason}"))("1 3 Error")
		})
		prev, err := n.Kubectl("logs", "crash", "--previous", "--timestamps")
		if err != nil || !strings.Contains(prev, "Z run at ") {
			t.Fatalf("logs --previous --timestamps: %q, %v", prev, err)
		}
		framework.Eventually(t, 30*time.Second, func() error {
			cur, err := n.Kubectl("logs", "crash")
			if err != nil || !strings.Contains(cur, "run at") || strings.Contains(prev, strings.TrimSpace(cur)) {
				return fmt.Errorf("current run's log %q (previous %q), %v", cur, prev, err)
			}
			return nil
		})
	})
	t.Run("deleted while an init container and a pull back-off wait", func(t *testing.T) {
		n.Apply(`apiVersion: v1
kind: Pod
metadata:
  name: stuck
spec:
  terminationGracePeriodSeconds: 1
  initContainers:
  - name: init
    image: docker.io/library/busybox:latest
    command: [sleep, "3600"]
  containers:
  - name: main
    image: docker.io/library/busybox:latest
`)
		framework.Eventually(t, 60*time.Second, func() error {
			return wantOutput(n.Kubectl("get", "pod", "stuck", "-o", "jsonpath={.status.initContainerStatuses[0].state.running.startedAt}"))("T")
		})
		for _, pod := range []string{"stuck", "missing"} {
			n.MustKubectl("delete", "pod", pod, "--wait=false")
		}
		framework.Eventually(t, 45*time.Second, func() error {
			out, err := n.Kubectl("get", "pods", "stuck", "missing", "--ignore-not-found", "-o", "name")
			if err != nil || strings.TrimSpace(out) != "" {
				return fmt.Errorf("pods still there: %q, %v", out, err)
			}
			return nil
		})
	})
	t.Run("OOMKilled", func(t *testing.T) {
		framework.Eventually(t, 90*time.Second, func() error {
			return wantOutput(n.Kubectl("get", "pod", "hog", "-o",
				"jsonpath={.status.containerStatuses[0].state.terminated.reason} {.status.phase}"))("OOMKilled Failed")
		})
	})
}

// wantOutput checks that a command succeeded with out containing want.
func wantOutput(out string, err error) func(want string) error {
	return func(want string) error {
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		if !strings.Contains(out, want) {
			return fmt.Errorf("output %q does not contain %q", out, want)
		}
		return nil
	}
}

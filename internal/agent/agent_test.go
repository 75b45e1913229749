package agent

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/svcnet/svcnet/internal/agent/images"
	"github.com/svcnet/svcnet/internal/agent/runtime"
)

// TestMain lets the test binary act as the pod-exec helper and as the
// built-in agnhost image.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case runtime.HelperCommand:
			err := runtime.HelperMain(os.Args[2:])
			fmt.Fprintln(os.Stderr, "pod-exec:", err)
			os.Exit(127)
		case images.AgnhostCommand:
			if err := images.AgnhostMain(os.Args[2:], os.Stdout); err != nil {
				fmt.Fprintln(os.Stderr, "agnhost:", err)
				os.Exit(1)
			}
			os.Exit(0)
		}
	}
	os.Exit(m.Run())
}

func TestExpand(t *testing.T) {
	vals := map[string]string{"A": "1", "B": "two"}
	tests := []struct{ in, want string }{
		{"$(A)-$(B)", "1-two"},
		{"$$(A)", "$(A)"},
		{"$(MISSING)", "$(MISSING)"},
		{"plain $ sign", "plain $ sign"},
		{"$(A", "$(A"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			if got := expand(tc.in, vals); got != tc.want {
				t.Errorf("expand(%q) got %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// poll calls cond until it holds or the deadline passes.
func poll(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func podReady(p *v1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == v1.PodReady {
			return c.Status == v1.ConditionTrue
		}
	}
	return false
}

func TestAgentRunsPod(t *testing.T) {
	if os.Getenv("SVCNET_IN_NETNS") != "1" || os.Geteuid() != 0 {
		t.Skip("needs root inside a fresh network namespace (SVCNET_IN_NETNS=1)")
	}
	dir := t.TempDir()
	unready := filepath.Join(dir, "unready")
	client := fake.NewClientset(
		&v1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-a"}, Spec: v1.NodeSpec{PodCIDR: "10.244.7.0/24"}},
		&v1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "kubernetes"},
			Spec: v1.ServiceSpec{ClusterIP: "10.96.0.1", Ports: []v1.ServicePort{{Name: "https", Port: 443, Protocol: v1.ProtocolTCP}}}},
		&v1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "app", Name: "my-svc"},
			Spec: v1.ServiceSpec{ClusterIP: "10.96.0.20", Ports: []v1.ServicePort{{Port: 80, Protocol: v1.ProtocolTCP}}}},
	)
	a, err := New(Config{Client: client, NodeName: "node-a", NodeIP: "192.0.2.10", DataDir: filepath.Join(dir, "data"),
		NetnsDir: filepath.Join(dir, "netns"), ClusterDNS: "10.96.0.10", InitialBackoff: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run() got %v, want nil", err)
		}
	})

	pod := &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "app", Name: "netexec", UID: "uid-1"},
		Spec: v1.PodSpec{
			NodeName: "node-a",
			Containers: []v1.Container{{
				Name: "agnhost", Image: "registry.k8s.io/e2e-test-images/agnhost:2.53",
				Args: []string{"netexec", "--http-port=8080", "--udp-port=-1"},
				Env:  []v1.EnvVar{{Name: "MY_POD", ValueFrom: &v1.EnvVarSource{FieldRef: &v1.ObjectFieldSelector{FieldPath: "metadata.name"}}}},
				ReadinessProbe: &v1.Probe{
					ProbeHandler:  v1.ProbeHandler{Exec: &v1.ExecAction{Command: []string{"sh", "-c", "test ! -e " + unready}}},
					PeriodSeconds: 1, FailureThreshold: 1, SuccessThreshold: 1, TimeoutSeconds: 2,
				},
				LivenessProbe: &v1.Probe{
					ProbeHandler:  v1.ProbeHandler{HTTPGet: &v1.HTTPGetAction{Path: "/healthz", Port: intstr.FromInt32(8080)}},
					PeriodSeconds: 1, FailureThreshold: 3, TimeoutSeconds: 1, InitialDelaySeconds: 1,
				},
			}},
		},
	}
	pods := client.CoreV1().Pods("app")
	if _, err := pods.Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	get := func() *v1.Pod {
		p, err := pods.Get(ctx, "netexec", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	poll(t, "pod ready", func() bool { return podReady(get()) })
	p := get()
	if p.Status.PodIP == "" || !strings.HasPrefix(p.Status.PodIP, "10.244.7.") || p.Status.Phase != v1.PodRunning {
		t.Fatalf("status got podIP %q phase %q, want an IP of 10.244.7.0/24 and Running", p.Status.PodIP, p.Status.Phase)
	}
	httpGet := func(path string) (string, error) {
		c := &http.Client{Timeout: 2 * time.Second}
		resp, err := c.Get("http://" + p.Status.PodIP + ":8080" + path)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return string(b), err
	}
	// The exec readiness probe does not wait for the server to listen.
	poll(t, "/hostname answered", func() bool { got, err := httpGet("/hostname"); return err == nil && got == "netexec" })

	// A container sees the Service and downward API variables and the
	// cluster's DNS: one that prints them to its log and exits.
	env := &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "app", Name: "env", UID: "uid-env"},
		Spec: v1.PodSpec{
			NodeName: "node-a", RestartPolicy: v1.RestartPolicyNever,
			Containers: []v1.Container{{
				Name: "print", Image: "busybox",
				Command: []string{"sh", "-c", "printenv MY_SVC_SERVICE_HOST KUBERNETES_SERVICE_PORT_HTTPS MY_POD; cat /etc/resolv.conf"},
				Env:     []v1.EnvVar{{Name: "MY_POD", ValueFrom: &v1.EnvVarSource{FieldRef: &v1.ObjectFieldSelector{FieldPath: "metadata.name"}}}},
			}},
		},
	}
	if _, err := pods.Create(ctx, env, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	poll(t, "env pod succeeded", func() bool {
		p, err := pods.Get(ctx, "env", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return p.Status.Phase == v1.PodSucceeded
	})
	b, err := os.ReadFile(a.LogPath("app", "env", "print"))
	if got := string(b); err != nil || !strings.HasPrefix(got, "10.96.0.20\n443\nenv\n") {
		t.Errorf("printenv in the log got (%q, %v), want service and downward API variables", got, err)
	}
	if got := string(b); !strings.Contains(got, "nameserver 10.96.0.10") ||
		!strings.Contains(got, "search app.svc.cluster.local svc.cluster.local cluster.local") {
		t.Errorf("resolv.conf in the log got %q, want cluster DNS", got)
	}
	if err := pods.Delete(ctx, "env", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	poll(t, "env netns removed", func() bool {
		_, err := os.Stat(filepath.Join(dir, "netns", "uid-env"))
		return os.IsNotExist(err)
	})

	// A failing readiness probe flips Ready to false, and back.
	if err := os.WriteFile(unready, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	poll(t, "pod not ready", func() bool { return !podReady(get()) })
	if err := os.Remove(unready); err != nil {
		t.Fatal(err)
	}
	poll(t, "pod ready again", func() bool { return podReady(get()) })

	// Killing the process restarts it.
	a.mu.Lock()
	w := a.workers["uid-1"]
	a.mu.Unlock()
	w.mu.Lock()
	pid := w.containers["agnhost"].State().Pid
	w.mu.Unlock()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	poll(t, "container restarted", func() bool {
		cs := get().Status.ContainerStatuses
		return len(cs) == 1 && cs[0].RestartCount == 1 && cs[0].State.Running != nil
	})
	if last := get().Status.ContainerStatuses[0].LastTerminationState.Terminated; last == nil || last.ExitCode != 137 {
		t.Errorf("last termination got %+v, want exit code 137", last)
	}
	poll(t, "answering after restart", func() bool { got, err := httpGet("/hostname"); return err == nil && got == "netexec" })

	// Deleting the pod tears down its network.
	netnsPath := filepath.Join(dir, "netns", "uid-1")
	if err := pods.Delete(ctx, "netexec", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	poll(t, "netns removed", func() bool { _, err := os.Stat(netnsPath); return os.IsNotExist(err) })

	n, err := client.CoreV1().Nodes().Get(ctx, "node-a", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n.Status.NodeInfo.KubeletVersion != KubeletVersion || len(n.Status.Conditions) == 0 || n.Status.Conditions[0].Status != v1.ConditionTrue {
		t.Errorf("node status got %+v, want Ready with kubelet version %s", n.Status, KubeletVersion)
	}
	if _, err := client.CoordinationV1().Leases(NodeLeaseNS).Get(ctx, "node-a", metav1.GetOptions{}); err != nil {
		t.Errorf("node lease got error %v, want it to exist", err)
	}
}

// TestTerminatingPodKeepsReadinessProbe checks that readiness is probed
// and reported during a pod's grace period, as kubelet does: a server that
// fails its readiness probe once asked to stop turns the pod unready (so it
// leaves its Services' ready endpoints) while it still runs. Liveness is
// not probed then, so the container is not restarted.
func TestTerminatingPodKeepsReadinessProbe(t *testing.T) {
	if os.Getenv("SVCNET_IN_NETNS") != "1" || os.Geteuid() != 0 {
		t.Skip("needs root inside a fresh network namespace (SVCNET_IN_NETNS=1)")
	}
	dir := t.TempDir()
	unready := filepath.Join(dir, "unready")
	// Written once the TERM trap is set: before, a SIGTERM would end the
	// shell, so the pod is not ready until then.
	trapped := filepath.Join(dir, "trapped")
	client := fake.NewClientset(
		&v1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-a"}, Spec: v1.NodeSpec{PodCIDR: "10.244.7.0/24"}})
	startAgent(t, Config{Client: client, NodeName: "node-a", NodeIP: "192.0.2.10", DataDir: filepath.Join(dir, "data"),
		NetnsDir: filepath.Join(dir, "netns"), InitialBackoff: 100 * time.Millisecond})
	ctx := context.Background()

	grace := int64(300)
	probeOnce := func(cmd string) *v1.Probe {
		return &v1.Probe{ProbeHandler: v1.ProbeHandler{Exec: &v1.ExecAction{Command: []string{"sh", "-c", cmd}}},
			PeriodSeconds: 1, FailureThreshold: 1, SuccessThreshold: 1, TimeoutSeconds: 2}
	}
	pod := &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "app", Name: "slow-stop", UID: "uid-slow"},
		Spec: v1.PodSpec{
			NodeName:                      "node-a",
			TerminationGracePeriodSeconds: &grace,
			Containers: []v1.Container{{
				Name: "server", Image: "busybox",
				// On SIGTERM it marks itself unready and keeps running.
				Command: []string{"sh", "-c", "trap 'touch " + unready + "' TERM; touch " + trapped +
					"; while true; do sleep 0.1; done"},
				ReadinessProbe: probeOnce("test -e " + trapped + " && test ! -e " + unready),
				// Fails once the pod terminates: it must not be acted on.
				LivenessProbe: probeOnce("test ! -e " + unready),
			}},
		},
	}
	pods := client.CoreV1().Pods("app")
	if _, err := pods.Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	get := func() *v1.Pod {
		p, err := pods.Get(ctx, pod.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	poll(t, "pod ready", func() bool { return podReady(get()) })

	// A graceful delete, as the API server records it: the object stays
	// with a deletion timestamp until the agent completes it.
	p := get()
	now := metav1.Now()
	p.DeletionTimestamp, p.DeletionGracePeriodSeconds = &now, &grace
	if _, err := pods.Update(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	poll(t, "terminating pod not ready", func() bool { return !podReady(get()) })
	p = get()
	if cs := p.Status.ContainerStatuses; len(cs) != 1 || cs[0].State.Running == nil || cs[0].RestartCount != 0 {
		t.Errorf("container status got %+v, want running, never restarted", cs)
	}
}

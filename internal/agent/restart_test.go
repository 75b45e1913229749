package agent

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"

	"github.com/svcnet/svcnet/internal/agent/runtime"
)

// TestAgentRestartReadoptsPods stops an agent that keeps its pods running,
// deletes one pod while no agent runs, and starts a new agent on the same
// directories: the remaining pod keeps its process, IP and restart count
// and never turns unready; the deleted one's process, netns and IP are
// cleaned up.
func TestAgentRestartReadoptsPods(t *testing.T) {
	_, client, cfg := restartTestConfig(t, "node-r", "10.244.9.0/24", "192.0.2.11")
	start := func() (*Agent, func()) { return startAgent(t, cfg) }
	ctx := context.Background()
	pods := client.CoreV1().Pods("app")
	for _, name := range []string{"keep", "gone"} {
		pod := &v1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "app", Name: name, UID: types.UID("uid-" + name)},
			// A short grace period bounds the final deletion on a loaded
			// machine; graceful termination has tests of its own.
			Spec: v1.PodSpec{NodeName: "node-r", TerminationGracePeriodSeconds: ptr.To[int64](2), Containers: []v1.Container{{
				Name: "agnhost", Image: "registry.k8s.io/e2e-test-images/agnhost:2.53",
				Args: []string{"netexec", "--http-port=8080", "--udp-port=-1"},
				ReadinessProbe: &v1.Probe{
					ProbeHandler:  v1.ProbeHandler{TCPSocket: &v1.TCPSocketAction{Port: intstr.FromInt32(8080)}},
					PeriodSeconds: 1, FailureThreshold: 1, SuccessThreshold: 1, TimeoutSeconds: 2,
				},
			}}}}
		if _, err := pods.Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	get := func(name string) *v1.Pod {
		p, err := pods.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	statePath := func(name string) string {
		return containerStatePath(filepath.Join(cfg.DataDir, "pods", "uid-"+name), "agnhost")
	}
	pidOf := func(name string) int {
		b, err := os.ReadFile(statePath(name))
		if err != nil {
			t.Fatal(err)
		}
		var rec struct{ Pid int }
		if err := json.Unmarshal(b, &rec); err != nil {
			t.Fatal(err)
		}
		return rec.Pid
	}
	hostname := func(ip string) (string, error) {
		c := &http.Client{Timeout: 2 * time.Second}
		resp, err := c.Get("http://" + ip + ":8080/hostname")
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return string(b), err
	}

	_, stop1 := start()
	poll(t, "pods ready", func() bool { return podReady(get("keep")) && podReady(get("gone")) })
	before := get("keep")
	keepPid, gonePid := pidOf("keep"), pidOf("gone")
	stop1()
	for _, pid := range []int{keepPid, gonePid} {
		if err := syscall.Kill(pid, 0); err != nil {
			t.Fatalf("pod process %d after the agent stopped: %v, want it running", pid, err)
		}
	}
	if err := pods.Delete(ctx, "gone", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}

	// Every status the new agent writes is watched: none may be unready.
	wch, err := pods.Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer wch.Stop()
	// This agent kills its pods when it stops, at the end of the test.
	cfg.KeepPodsOnExit = false
	a2, _ := start()
	poll(t, "pod re-adopted", func() bool {
		a2.mu.Lock()
		w := a2.workers["uid-keep"]
		a2.mu.Unlock()
		if w == nil {
			return false
		}
		w.mu.Lock()
		defer w.mu.Unlock()
		c := w.containers["agnhost"]
		return c != nil && c.State().Phase == runtime.Running
	})
	if got := pidOf("keep"); got != keepPid {
		t.Errorf("pid after restart got %d, want %d (re-adopted, not restarted)", got, keepPid)
	}
	poll(t, "answers on its IP", func() bool { got, err := hostname(before.Status.PodIP); return err == nil && got == "keep" })

	// The deleted pod's process, netns, veth and address are gone.
	poll(t, "leftover process killed", func() bool { return processGone(gonePid) })
	poll(t, "leftover netns removed", func() bool {
		_, err := os.Stat(filepath.Join(cfg.NetnsDir, "uid-gone"))
		return os.IsNotExist(err)
	})
	poll(t, "leftover pod dir removed", func() bool {
		_, err := os.Stat(filepath.Join(cfg.DataDir, "pods", "uid-gone"))
		return os.IsNotExist(err)
	})
	if _, ok, _ := a2.net.IPAM().Lookup("uid-gone"); ok {
		t.Errorf("the deleted pod still holds an address")
	}
	if uids, _ := a2.net.Pods(); len(uids) != 1 || uids[0] != "uid-keep" {
		t.Errorf("pod networks after restart got %v, want [uid-keep]", uids)
	}

	// The re-adopted process is supervised: killing it restarts it.
	if err := syscall.Kill(keepPid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	poll(t, "re-adopted container restarted", func() bool {
		cs := get("keep").Status.ContainerStatuses
		return len(cs) == 1 && cs[0].RestartCount == 1 && cs[0].State.Running != nil
	})
	after := get("keep")
	if after.Status.PodIP != before.Status.PodIP || !after.Status.StartTime.Equal(before.Status.StartTime) {
		t.Errorf("after restart got IP %s start %v, want %s %v", after.Status.PodIP, after.Status.StartTime,
			before.Status.PodIP, before.Status.StartTime)
	}
watch:
	for {
		select {
		case ev := <-wch.ResultChan():
			p, ok := ev.Object.(*v1.Pod)
			if ev.Type != watch.Modified || !ok || p.Name != "keep" {
				continue
			}
			cs := p.Status.ContainerStatuses
			if len(cs) == 1 && cs[0].LastTerminationState.Terminated != nil {
				break watch // the kill above; every earlier update was checked
			}
			if !podReady(p) {
				t.Fatalf("status written after the agent restart is not Ready: %+v", p.Status)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no status update of the kill seen")
		}
	}

	// Deleting the pod removes its network (and its namespace mount).
	if err := pods.Delete(ctx, "keep", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	poll(t, "netns removed", func() bool {
		_, err := os.Stat(filepath.Join(cfg.NetnsDir, "uid-keep"))
		return os.IsNotExist(err)
	})
}

// restartTestConfig skips unless root in a throw-away network namespace,
// and returns a directory for the test, a fake API with Node node (pod CIDR
// cidr) and the config of agents on it that keep their pods when stopped.
func restartTestConfig(t *testing.T, node, cidr, nodeIP string) (string, *fake.Clientset, Config) {
	t.Helper()
	if os.Getenv("SVCNET_IN_NETNS") != "1" || os.Geteuid() != 0 {
		t.Skip("needs root inside a fresh network namespace (SVCNET_IN_NETNS=1)")
	}
	dir := t.TempDir()
	client := fake.NewClientset(&v1.Node{ObjectMeta: metav1.ObjectMeta{Name: node}, Spec: v1.NodeSpec{PodCIDR: cidr}})
	cfg := Config{Client: client, NodeName: node, NodeIP: nodeIP, DataDir: filepath.Join(dir, "data"),
		NetnsDir: filepath.Join(dir, "netns"), InitialBackoff: 100 * time.Millisecond, KeepPodsOnExit: true}
	return dir, client, cfg
}

// startAgent runs an agent with cfg until the returned stop is called.
func startAgent(t *testing.T, cfg Config) (*Agent, func()) {
	t.Helper()
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run() got %v, want nil", err)
			}
		})
	}
	t.Cleanup(stop)
	return a, stop
}

// containerState returns the runtime state of container name of pod uid as
// agent a supervises it, or false while it does not.
func containerState(a *Agent, uid, name string) (runtime.State, bool) {
	a.mu.Lock()
	w := a.workers[types.UID(uid)]
	a.mu.Unlock()
	if w == nil {
		return runtime.State{}, false
	}
	w.mu.Lock()
	c := w.containers[name]
	w.mu.Unlock()
	if c == nil {
		return runtime.State{}, false
	}
	return c.State(), true
}

// TestAgentRestartExitStatus checks the exit statuses an agent reports for
// processes it did not start. Two restartPolicy: Never pods are re-adopted
// after an agent restart and then exit by themselves, with 0 and 3: they
// end Succeeded (Completed, 0) and Failed (Error, 3). A restartPolicy:
// Always pod is killed by an agent's graceful stop (no keep-pods): the
// next agent restarts it with that kill as its last state.
func TestAgentRestartExitStatus(t *testing.T) {
	dir, client, cfg := restartTestConfig(t, "node-x", "10.244.10.0/24", "192.0.2.12")
	ctx := context.Background()
	pods := client.CoreV1().Pods("app")
	fifo := func(name string) string { return filepath.Join(dir, name+".code") }
	for _, p := range []struct {
		name   string
		policy v1.RestartPolicy
	}{{"ok", v1.RestartPolicyNever}, {"fail", v1.RestartPolicyNever}, {"always", v1.RestartPolicyAlways}} {
		if err := syscall.Mkfifo(fifo(p.name), 0o600); err != nil {
			t.Fatal(err)
		}
		pod := &v1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "app", Name: p.name, UID: types.UID("uid-" + p.name)},
			Spec: v1.PodSpec{NodeName: "node-x", RestartPolicy: p.policy, TerminationGracePeriodSeconds: ptr.To[int64](1),
				Containers: []v1.Container{{Name: "c", Image: "busybox",
					// Exits with the code written to its FIFO.
					Command: []string{"sh", "-c", `read code < "$0"; exit "$code"`, fifo(p.name)}}}}}
		if _, err := pods.Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	status := func(name string) (v1.PodPhase, v1.ContainerStatus) {
		p, err := pods.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Status.ContainerStatuses) != 1 {
			return p.Status.Phase, v1.ContainerStatus{}
		}
		return p.Status.Phase, p.Status.ContainerStatuses[0]
	}
	running := func(name string) bool { _, cs := status(name); return cs.State.Running != nil }
	// exit makes the container of pod name exit with code, once its
	// shell waits in open(2) for a writer (before, a non-blocking open
	// fails with ENXIO).
	exit := func(name, code string) {
		var f *os.File
		poll(t, name+" reading its FIFO", func() bool {
			var err error
			f, err = os.OpenFile(fifo(name), os.O_WRONLY|syscall.O_NONBLOCK, 0)
			if err != nil && !errors.Is(err, syscall.ENXIO) {
				t.Fatalf("opening the FIFO of %s: %v", name, err)
			}
			return err == nil
		})
		defer f.Close()
		if _, err := f.WriteString(code + "\n"); err != nil {
			t.Fatal(err)
		}
	}

	// started waits until an agent started at since has its caches synced
	// (it renews the node lease only then): stopped before, Run returns
	// the context's error.
	started := func(since time.Time) {
		poll(t, "agent started", func() bool {
			l, err := client.CoordinationV1().Leases(NodeLeaseNS).Get(ctx, "node-x", metav1.GetOptions{})
			return err == nil && l.Spec.RenewTime != nil && !l.Spec.RenewTime.Time.Before(since)
		})
	}

	since := time.Now()
	_, stop1 := startAgent(t, cfg)
	poll(t, "containers running", func() bool { return running("ok") && running("fail") && running("always") })
	started(since)
	stop1()

	// The next agent kills its pods when it stops.
	cfg.KeepPodsOnExit = false
	since = time.Now()
	a2, stop2 := startAgent(t, cfg)
	started(since)
	for _, name := range []string{"ok", "fail", "always"} {
		poll(t, name+" re-adopted", func() bool {
			st, ok := containerState(a2, "uid-"+name, "c")
			return ok && st.Phase == runtime.Running
		})
	}
	exit("ok", "0")
	exit("fail", "3")
	for _, tc := range []struct {
		name   string
		phase  v1.PodPhase
		code   int32
		reason string
	}{{"ok", v1.PodSucceeded, 0, "Completed"}, {"fail", v1.PodFailed, 3, "Error"}} {
		poll(t, tc.name+" terminated", func() bool { _, cs := status(tc.name); return cs.State.Terminated != nil })
		phase, cs := status(tc.name)
		if term := cs.State.Terminated; phase != tc.phase || term.ExitCode != tc.code || term.Reason != tc.reason ||
			cs.RestartCount != 0 {
			t.Errorf("%s got phase %s, restarts %d, terminated %+v, want %s, no restarts, %s with exit code %d",
				tc.name, phase, cs.RestartCount, term, tc.phase, tc.reason, tc.code)
		}
	}

	stop2()
	since = time.Now()
	_, _ = startAgent(t, cfg)
	started(since)
	poll(t, "always restarted", func() bool {
		_, cs := status("always")
		return cs.RestartCount == 1 && cs.State.Running != nil
	})
	if _, cs := status("always"); cs.LastTerminationState.Terminated == nil ||
		cs.LastTerminationState.Terminated.Reason != "Error" || cs.LastTerminationState.Terminated.ExitCode != 137 {
		t.Errorf("last state after the graceful stop got %+v, want terminated: Error with exit code 137",
			cs.LastTerminationState)
	}
	if phase, cs := status("ok"); phase != v1.PodSucceeded || cs.State.Terminated == nil {
		t.Errorf("ok after another restart got phase %s, state %+v, want Succeeded and terminated", phase, cs.State)
	}

	// Deleting the pods removes their networks (and namespace mounts).
	for _, name := range []string{"ok", "fail", "always"} {
		if err := pods.Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		poll(t, name+" netns removed", func() bool {
			_, err := os.Stat(filepath.Join(cfg.NetnsDir, "uid-"+name))
			return os.IsNotExist(err)
		})
	}
}

// processGone reports whether pid has exited (a zombie counts as exited).
func processGone(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return len(f) > 0 && f[0] == "Z"
}

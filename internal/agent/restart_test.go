package agent

import (
	"context"
	"encoding/json"
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
	if os.Getenv("SVCNET_IN_NETNS") != "1" || os.Geteuid() != 0 {
		t.Skip("needs root inside a fresh network namespace (SVCNET_IN_NETNS=1)")
	}
	dir := t.TempDir()
	client := fake.NewClientset(
		&v1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-r"}, Spec: v1.NodeSpec{PodCIDR: "10.244.9.0/24"}})
	cfg := Config{Client: client, NodeName: "node-r", NodeIP: "192.0.2.11", DataDir: filepath.Join(dir, "data"),
		NetnsDir: filepath.Join(dir, "netns"), InitialBackoff: 100 * time.Millisecond, KeepPodsOnExit: true}
	start := func() (*Agent, func()) {
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

package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/svcnet/svcnet/test/e2e/framework"
)

// containerRecord reads the agent's record of a pod's container: the
// process it re-adopts after a restart.
func containerRecord(t *testing.T, n *framework.Node, uid, container string) (pid int) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(n.DataDir, "agent", "pods", uid, "containers", container+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var rec struct{ Pid int }
	if err := json.Unmarshal(b, &rec); err != nil {
		t.Fatal(err)
	}
	return rec.Pid
}

// alive reports whether pid runs (a zombie does not count).
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return len(f) > 0 && f[0] != "Z"
}

// TestServerRestartReadoptsPods kills `svcnet server` (API server, agent
// and all) as a crash would. Its pods run on and answer meanwhile; the
// restarted server re-adopts them with the same process, IP and restart
// count, never unready, and kubectl logs still shows their output. A pod
// deleted while no agent ran has its processes, netns, veth and address
// removed when the agent starts.
func TestServerRestartReadoptsPods(t *testing.T) {
	n := framework.StartNode(t)
	n.Apply(webService)
	for _, name := range []string{"keep", "gone"} {
		n.Apply(fmt.Sprintf(netexecPod, name))
	}
	jsonpath := func(pod, path string) string {
		t.Helper()
		return n.MustKubectl("get", "pod", pod, "-o", "jsonpath="+path)
	}
	framework.Eventually(t, 60*time.Second, func() error {
		for _, p := range []string{"keep", "gone"} {
			if out, err := n.Kubectl("get", "pod", p, "-o", "jsonpath={.status.conditions[?(@.type=='Ready')].status}"); err != nil || out != "True" {
				return fmt.Errorf("%s not Ready: %q %v", p, out, err)
			}
		}
		return nil
	})
	readySince := jsonpath("keep", "{.status.conditions[?(@.type=='Ready')].lastTransitionTime}")
	keepIP := jsonpath("keep", "{.status.podIP}")
	keepUID, goneUID := jsonpath("keep", "{.metadata.uid}"), jsonpath("gone", "{.metadata.uid}")
	keepPid, gonePid := containerRecord(t, n, keepUID, "netexec"), containerRecord(t, n, goneUID, "netexec")
	curl := func(url string) (string, error) {
		return n.Exec("curl", "-sS", "--max-time", "3", url)
	}
	clusterIP := n.MustKubectl("get", "svc", "web", "-o", "jsonpath={.spec.clusterIP}")
	// logLine writes a line to the container's stdout, as its process
	// would: to its descriptor 1, reached through /proc from the host (an
	// exec runs in a PID namespace of its own, without the container's
	// process).
	logLine := func(msg string) {
		t.Helper()
		f, err := os.OpenFile("/proc/"+strconv.Itoa(keepPid)+"/fd/1", os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := fmt.Fprintln(f, msg); err != nil {
			t.Fatal(err)
		}
	}
	logLine("before-restart")

	n.Kill()
	if !alive(keepPid) || !alive(gonePid) {
		t.Fatalf("pod processes after the server died: keep %v, gone %v; want both running", alive(keepPid), alive(gonePid))
	}
	if out, err := curl("http://" + keepIP + ":8080/hostname"); err != nil || out != "keep" {
		t.Errorf("pod IP while no server runs got (%q, %v), want keep", out, err)
	}

	// Delete "gone" while no agent runs: a control plane alone, then a
	// forced deletion, as on a machine whose agent is down.
	n.RestartServer("--disable", "agent")
	n.MustKubectl("delete", "pod", "gone", "--grace-period=0", "--force", "--wait=false")
	n.Kill()

	start := time.Now()
	n.RestartServer()
	t.Logf("server restarted and node Ready in %s", time.Since(start).Round(time.Millisecond))

	t.Run("pod re-adopted", func(t *testing.T) {
		framework.Eventually(t, 30*time.Second, func() error {
			if _, err := n.Kubectl("get", "--raw", "/readyz"); err != nil {
				return err
			}
			if got := containerRecord(t, n, keepUID, "netexec"); got != keepPid {
				return fmt.Errorf("pid got %d, want %d", got, keepPid)
			}
			return nil
		})
		if !alive(keepPid) {
			t.Fatalf("pid %d gone after the restart", keepPid)
		}
		got := jsonpath("keep", "{.status.podIP} {.status.containerStatuses[0].restartCount} "+
			"{.status.conditions[?(@.type=='Ready')].status} {.status.conditions[?(@.type=='Ready')].lastTransitionTime}")
		if want := keepIP + " 0 True " + readySince; got != want {
			t.Errorf("status after restart got %q, want %q (same IP, no restart, Ready throughout)", got, want)
		}
		for _, url := range []string{"http://" + keepIP + ":8080/hostname", "http://" + clusterIP + "/hostname"} {
			framework.Eventually(t, 30*time.Second, func() error {
				if out, err := curl(url); err != nil || out != "keep" {
					return fmt.Errorf("%s got (%q, %v), want keep", url, out, err)
				}
				return nil
			})
		}
	})
	t.Run("logs of a re-adopted container", func(t *testing.T) {
		logLine("after-restart")
		framework.Eventually(t, 20*time.Second, func() error {
			out, err := n.Kubectl("logs", "keep")
			if err != nil || !strings.Contains(out, "before-restart") || !strings.Contains(out, "after-restart") {
				return fmt.Errorf("logs got (%q, %v), want both echoes", out, err)
			}
			return nil
		})
	})
	t.Run("pod deleted while down cleaned up", func(t *testing.T) {
		framework.Eventually(t, 30*time.Second, func() error {
			if alive(gonePid) {
				return fmt.Errorf("process %d still runs", gonePid)
			}
			if _, err := os.Stat(filepath.Join(n.DataDir, "agent", "netns", goneUID)); !os.IsNotExist(err) {
				return fmt.Errorf("netns of the deleted pod: %v", err)
			}
			if _, err := os.Stat(filepath.Join(n.DataDir, "agent", "pods", goneUID)); !os.IsNotExist(err) {
				return fmt.Errorf("state of the deleted pod: %v", err)
			}
			// One pod veth is left on the bridge: keep's.
			if out := n.MustExec("ip", "-o", "link", "show", "master", "svcnet0"); strings.Count(out, "\n") != 1 {
				return fmt.Errorf("bridge ports got:\n%s\nwant one", out)
			}
			return nil
		})
	})
	t.Run("re-adopted process supervised", func(t *testing.T) {
		if err := syscall.Kill(keepPid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		framework.Eventually(t, 30*time.Second, func() error {
			// The supervisor, which outlived the crash too, recorded the
			// real exit status.
			out := jsonpath("keep", "{.status.containerStatuses[0].restartCount} "+
				"{.status.containerStatuses[0].lastState.terminated.reason} {.status.containerStatuses[0].lastState.terminated.exitCode}")
			if out != "1 Error 137" {
				return fmt.Errorf("restartCount, last reason and exit code got %q, want 1 Error 137", out)
			}
			return nil
		})
	})
}

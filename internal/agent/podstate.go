package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	v1 "k8s.io/api/core/v1"

	"github.com/svcnet/svcnet/internal/agent/runtime"
)

// The agent keeps each pod's state under <data-dir>/pods/<uid>/, so that a
// restarted agent resumes its pods and cleans up after those deleted
// meanwhile:
//
//	pod.json               namespace and name (where the logs are)
//	resolv.conf, hosts     bind-mounted into the containers
//	containers/<name>.json the runtime's record of each container
//
// The pod's network (netns, veth, IP) is found by UID through podnet.
const (
	podMetaFile      = "pod.json"
	containersSubdir = "containers"
	// leftoverKillWait bounds the wait for a leftover process to exit
	// after SIGKILL.
	leftoverKillWait = 10 * time.Second
)

// podMeta is the content of pod.json.
type podMeta struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

func writePodMeta(dir string, p *v1.Pod) error {
	if err := os.MkdirAll(filepath.Join(dir, containersSubdir), 0o750); err != nil {
		return fmt.Errorf("creating pod dir: %w", err)
	}
	b, _ := json.Marshal(podMeta{Namespace: p.Namespace, Name: p.Name})
	if err := os.WriteFile(filepath.Join(dir, podMetaFile), b, 0o644); err != nil {
		return fmt.Errorf("writing pod metadata: %w", err)
	}
	return nil
}

func containerStatePath(podDir, container string) string {
	return filepath.Join(podDir, containersSubdir, container+".json")
}

func (a *Agent) podsDir() string { return filepath.Join(a.cfg.DataDir, "pods") }

// removePodState kills the processes left by the containers of pod uid,
// which no longer exists, and removes its directory and its logs (unless
// live holds a pod of the same namespace/name, whose logs they now are).
// The network is removed separately, once no process holds it.
func (a *Agent) removePodState(uid string, live map[string]bool) error {
	dir := filepath.Join(a.podsDir(), uid)
	var errs []error
	records, _ := filepath.Glob(filepath.Join(dir, containersSubdir, "*.json"))
	for _, rec := range records {
		killed, err := runtime.KillRecorded(rec, leftoverKillWait)
		if err != nil {
			errs = append(errs, err)
		}
		if killed {
			a.log.Info("Killed leftover container process", "podUID", uid,
				"container", strings.TrimSuffix(filepath.Base(rec), ".json"))
		}
	}
	if b, err := os.ReadFile(filepath.Join(dir, podMetaFile)); err == nil {
		var m podMeta
		if json.Unmarshal(b, &m) == nil && m.Namespace != "" && m.Name != "" && !live[m.Namespace+"/"+m.Name] {
			_ = os.RemoveAll(filepath.Dir(a.LogPath(m.Namespace, m.Name, "x")))
		}
	}
	if len(errs) > 0 {
		// Keep the records: the next start tries again.
		return errors.Join(errs...)
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("removing pod dir: %w", err)
	}
	return nil
}

package podnet

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// createNetns makes a new network namespace and pins it by bind-mounting it
// onto path. The namespace is created on a dedicated OS thread which is
// thrown away afterwards (the goroutine exits while locked), so no other
// goroutine ever runs inside it.
func createNetns(path string) error {
	// A file without a namespace mounted on it is a pin lost with the
	// mount namespace of an earlier agent (see Repin).
	if _, err := os.Stat(path); err == nil && !pinned(path) {
		_ = os.Remove(path)
	}
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE|os.O_EXCL, 0o444)
	if err != nil {
		return fmt.Errorf("creating netns mount point: %w", err)
	}
	f.Close()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// Deliberately no UnlockOSThread: the thread dies with the goroutine.
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("unsharing network namespace: %w", err)
			return
		}
		src := fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid())
		if err := unix.Mount(src, path, "none", unix.MS_BIND, ""); err != nil {
			errc <- fmt.Errorf("pinning network namespace: %w", err)
			return
		}
		errc <- nil
	}()
	if err := <-errc; err != nil {
		os.Remove(path)
		return err
	}
	return nil
}

// deleteNetns unpins and removes a namespace made by createNetns; a missing
// one is not an error.
func deleteNetns(path string) error {
	if err := unix.Unmount(path, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("unmounting netns: %w", err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing netns: %w", err)
	}
	return nil
}

// pinned reports whether path is a pinned network namespace (an nsfs
// mount), not merely the file it is mounted on.
func pinned(path string) bool {
	var st unix.Statfs_t
	return unix.Statfs(path, &st) == nil && st.Type == unix.NSFS_MAGIC
}

// Repin pins the network namespace that nsPath (e.g. /proc/<pid>/ns/net of
// a pod process) refers to at the pod's NetnsPath, unless a namespace is
// pinned there already. A pin lives in the mount namespace of the agent
// that made it: an agent started in a private mount namespace (such as
// `ip netns exec` gives) loses its pins when it exits, while the pod's
// processes keep the namespace itself alive.
func (m *Manager) Repin(uid, nsPath string) (bool, error) {
	path := m.NetnsPath(uid)
	if pinned(path) {
		return false, nil
	}
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o444)
	if err != nil {
		return false, fmt.Errorf("creating netns mount point: %w", err)
	}
	f.Close()
	if err := unix.Mount(nsPath, path, "none", unix.MS_BIND, ""); err != nil {
		return false, fmt.Errorf("re-pinning network namespace: %w", err)
	}
	return true, nil
}

// SetupHostNetworkPod gives a hostNetwork pod the network namespace the
// agent runs in, the node's: it is pinned at the pod's NetnsPath like a
// pod's own (so its containers, exec and a restarted agent find it the
// same way, and TeardownPod only unpins it), and the pod's IP is the
// node's. It is idempotent.
func (m *Manager) SetupHostNetworkPod(uid string, nodeIP netip.Addr) (Sandbox, error) {
	if _, err := m.Repin(uid, "/proc/self/ns/net"); err != nil {
		return Sandbox{}, fmt.Errorf("pinning the node's network namespace: %w", err)
	}
	return Sandbox{NetnsPath: m.NetnsPath(uid), IP: nodeIP}, nil
}

package ctrdtest

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
)

// mirroredRegistries are the public registries whose pulls go to
// Config.RegistryAddr: every host a test or example image names.
func mirroredRegistries() []string {
	return []string{"docker.io", "registry-1.docker.io", "registry.k8s.io", "k8s.gcr.io", "gcr.io", "quay.io"}
}

// configTOML renders containerd 1.6's version-2 configuration for cfg (with
// defaults applied): everything under cfg.Dir, the CRI plugin with cfg's
// sandbox image, CNI directories and snapshotter, and each public registry
// (and the registry's own address, for references naming it) mirrored to
// http://RegistryAddr.
func configTOML(cfg Config) string {
	q := strconv.Quote // TOML basic strings escape as Go's do for paths and addresses
	var b strings.Builder
	fmt.Fprintf(&b, "version = 2\n")
	fmt.Fprintf(&b, "root = %s\n", q(filepath.Join(cfg.Dir, "root")))
	fmt.Fprintf(&b, "state = %s\n", q(filepath.Join(cfg.Dir, "state")))
	fmt.Fprintf(&b, "temp = %s\n", q(filepath.Join(cfg.Dir, "tmp")))
	fmt.Fprintf(&b, "\n[grpc]\n  address = %s\n", q(socketPath(cfg.Dir)))
	fmt.Fprintf(&b, "\n[plugins]\n")
	// The opt plugin would otherwise install into the host's /opt/containerd.
	fmt.Fprintf(&b, "  [plugins.\"io.containerd.internal.v1.opt\"]\n    path = %s\n", q(filepath.Join(cfg.Dir, "opt")))
	fmt.Fprintf(&b, "  [plugins.\"io.containerd.grpc.v1.cri\"]\n")
	fmt.Fprintf(&b, "    sandbox_image = %s\n", q(cfg.SandboxImage))
	// Pod network namespaces under the state directory, not the host's
	// /var/run/netns, so a test's pods leave nothing there.
	fmt.Fprintf(&b, "    netns_mounts_under_state_dir = true\n")
	// Sandboxes ask for oom_score_adj -998, which lowering below
	// containerd's own needs CAP_SYS_RESOURCE: not every CI machine or VM
	// grants it (runc then fails with "can't get final child's PID from
	// pipe"). Tests do not need the protection.
	fmt.Fprintf(&b, "    restrict_oom_score_adj = true\n")
	fmt.Fprintf(&b, "    [plugins.\"io.containerd.grpc.v1.cri\".containerd]\n      snapshotter = %s\n", q(cfg.Snapshotter))
	// runc keeps its container state under Dir rather than the host's
	// /run/containerd/runc.
	fmt.Fprintf(&b, "      default_runtime_name = \"runc\"\n")
	fmt.Fprintf(&b, "      [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc]\n")
	fmt.Fprintf(&b, "        runtime_type = \"io.containerd.runc.v2\"\n")
	fmt.Fprintf(&b, "        [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc.options]\n")
	fmt.Fprintf(&b, "          Root = %s\n", q(filepath.Join(cfg.Dir, "runc")))
	fmt.Fprintf(&b, "    [plugins.\"io.containerd.grpc.v1.cri\".cni]\n")
	fmt.Fprintf(&b, "      bin_dir = %s\n      conf_dir = %s\n", q(cfg.CNIBinDir), q(cfg.CNIConfDir))
	if cfg.RegistryAddr != "" {
		endpoint := q("http://" + cfg.RegistryAddr)
		for _, host := range append(mirroredRegistries(), cfg.RegistryAddr) {
			fmt.Fprintf(&b, "    [plugins.\"io.containerd.grpc.v1.cri\".registry.mirrors.%s]\n", q(host))
			fmt.Fprintf(&b, "      endpoint = [%s]\n", endpoint)
		}
	}
	return b.String()
}

// socketPath is containerd's gRPC socket in dir.
func socketPath(dir string) string { return filepath.Join(dir, "containerd.sock") }

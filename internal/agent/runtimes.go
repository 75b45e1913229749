package agent

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/svcnet/svcnet/internal/agent/cni"
	"github.com/svcnet/svcnet/internal/agent/cri"
	"github.com/svcnet/svcnet/internal/agent/podnet"
)

// Values of Config.ContainerRuntime (kubelet's old --container-runtime
// called a CRI runtime "remote").
const (
	RuntimeRemote  = "remote"
	RuntimeProcess = "process"
)

// RuntimeOptions select how pods run: ContainerRuntime RuntimeRemote runs
// them as containers of the CRI runtime at RuntimeEndpoint, the pod network
// from the CNI configuration the agent writes into CNIConfDir;
// RuntimeProcess runs them as host processes without isolation, for
// development. An empty ContainerRuntime picks remote when
// RuntimeEndpoint's socket exists, else process.
type RuntimeOptions struct {
	ContainerRuntime string
	// RuntimeEndpoint defaults to cri.DefaultEndpoint.
	RuntimeEndpoint string
	// CNIConfDir (default /etc/cni/net.d) receives the node's conflist;
	// CNIBinDir must hold the plugins it names (default: /opt/cni/bin, or
	// /usr/lib/cni where Debian puts them).
	CNIConfDir, CNIBinDir string
}

// runtimeChoice resolves Config.ContainerRuntime: empty picks remote when
// the endpoint's socket exists.
func runtimeChoice(kind, endpoint string) (string, error) {
	switch kind {
	case RuntimeRemote, "containerd":
		return RuntimeRemote, nil
	case RuntimeProcess:
		return RuntimeProcess, nil
	case "":
		if endpoint == "" {
			endpoint = cri.DefaultEndpoint
		}
		if path, ok := strings.CutPrefix(endpoint, "unix://"); ok {
			if st, err := os.Stat(path); err == nil && st.Mode()&os.ModeSocket != 0 {
				return RuntimeRemote, nil
			}
			return RuntimeProcess, nil
		}
		return RuntimeRemote, nil
	}
	return "", fmt.Errorf("unknown container runtime %q (want %s or %s)", kind, RuntimeRemote, RuntimeProcess)
}

// connectRuntime connects to the container runtime when pods run in one.
func (a *Agent) connectRuntime(ctx context.Context) error {
	kind, err := runtimeChoice(a.cfg.Runtime.ContainerRuntime, a.cfg.Runtime.RuntimeEndpoint)
	if err != nil {
		return err
	}
	if kind == RuntimeProcess {
		a.log.Warn("Pods run as host processes (--container-runtime=process): no image, filesystem, user or resource isolation; for development only")
		return nil
	}
	a.cri, err = cri.New(ctx, cri.Config{Endpoint: a.cfg.Runtime.RuntimeEndpoint, NodeName: a.cfg.NodeName,
		InitialBackoff: a.cfg.InitialBackoff, Logger: a.log})
	return err
}

// writeCNIConfig writes the node's CNI configuration for podCIDR, when pods
// run in a container runtime: its bridge is the one podnet made (with the
// gateway address, routes and masquerading), its IPAM state is the node's
// own (under the data dir, not the machine-wide default).
func (a *Agent) writeCNIConfig(podCIDR netip.Prefix) error {
	if a.cri == nil {
		return nil
	}
	binDir, err := cni.FindBinDir(candidates(a.cfg.Runtime.CNIBinDir)...)
	if err != nil {
		return fmt.Errorf("CNI plugins: %w", err)
	}
	bridge := a.cfg.BridgeName
	if bridge == "" {
		bridge = podnet.DefaultBridgeName
	}
	path, err := cni.Write(cni.Config{ConfDir: a.cfg.Runtime.CNIConfDir, BridgeName: bridge, PodCIDR: podCIDR,
		DataDir: filepath.Join(a.cfg.DataDir, "cni", "networks")})
	if err != nil {
		return fmt.Errorf("writing CNI configuration: %w", err)
	}
	a.log.Info("Pods run in a container runtime", "runtime", a.cri.Name, "version", a.cri.Version,
		"cniConf", path, "cniBinDir", binDir)
	return nil
}

func candidates(dir string) []string {
	if dir != "" {
		return []string{dir}
	}
	return nil
}

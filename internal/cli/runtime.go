package cli

import (
	"github.com/spf13/pflag"

	"github.com/svcnet/svcnet/internal/agent"
	"github.com/svcnet/svcnet/internal/agent/cri"
)

// addRuntimeFlags adds kubelet's flags choosing the container runtime.
func addRuntimeFlags(f *pflag.FlagSet, o *agent.RuntimeOptions) {
	f.StringVar(&o.ContainerRuntime, "container-runtime", "",
		"how pods run: remote (containers of the CRI runtime at --container-runtime-endpoint) or process (host processes without isolation, for development); default: remote when the endpoint's socket exists, else process")
	f.StringVar(&o.RuntimeEndpoint, "container-runtime-endpoint", cri.DefaultEndpoint, "the CRI runtime's socket")
	f.StringVar(&o.CNIConfDir, "cni-conf-dir", "/etc/cni/net.d", "where the node's CNI network configuration is written (the runtime's CNI conf_dir)")
	f.StringVar(&o.CNIBinDir, "cni-bin-dir", "", "directory of the CNI plugins (default: /opt/cni/bin, else /usr/lib/cni)")
}

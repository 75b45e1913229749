package agent

import (
	"context"
	"net/netip"
	"strings"

	v1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/svcnet/svcnet/internal/agent/podnet"
)

// hostPortsOf lists the hostPorts of pod's containers (init containers
// too) as podnet publishes them: protocol TCP unless given, an empty
// hostIP (or 0.0.0.0) for every node address. IPv6 host IPs are not
// published (the pod network is IPv4); they are returned in skipped.
func hostPortsOf(pod *v1.Pod) (ports []podnet.HostPort, skipped []string) {
	for _, cs := range [][]v1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for _, c := range cs {
			for _, p := range c.Ports {
				if p.HostPort <= 0 || p.HostPort > 65535 || p.ContainerPort <= 0 || p.ContainerPort > 65535 {
					continue
				}
				hp := podnet.HostPort{Protocol: strings.ToLower(string(p.Protocol)), HostPort: uint16(p.HostPort),
					ContainerPort: uint16(p.ContainerPort)}
				if hp.Protocol == "" {
					hp.Protocol = "tcp"
				}
				if p.HostIP != "" {
					ip, err := netip.ParseAddr(p.HostIP)
					if err != nil || !ip.Unmap().Is4() {
						skipped = append(skipped, p.HostIP)
						continue
					}
					hp.HostIP = ip.Unmap()
				}
				ports = append(ports, hp)
			}
		}
	}
	return ports, skipped
}

// publishHostPorts publishes pod's hostPorts on the node once its sandbox
// exists.
func (a *Agent) publishHostPorts(ctx context.Context, pod *v1.Pod) error {
	ports, skipped := hostPortsOf(pod)
	if len(skipped) > 0 {
		a.log.Warn("Skipped host ports on IPv6 or invalid host IPs", "pod", pod.Namespace+"/"+pod.Name, "hostIPs", skipped)
	}
	return a.net.SetHostPorts(ctx, string(pod.UID), ports)
}

// syncHostPorts rewrites the node's hostPort table from the live pods of
// store at start: ports of pods deleted while no agent ran go, those of
// pods still running are there before their workers resume them.
func (a *Agent) syncHostPorts(ctx context.Context, store cache.Store) {
	all := map[string][]podnet.HostPort{}
	for _, o := range store.List() {
		p := a.pod(o)
		if p == nil || p.Status.Phase == v1.PodSucceeded || p.Status.Phase == v1.PodFailed {
			continue
		}
		if ports, _ := hostPortsOf(p); len(ports) > 0 {
			all[string(p.UID)] = ports
		}
	}
	if err := a.net.SyncHostPorts(ctx, all); err != nil {
		a.log.Warn("Failed syncing host ports", "err", err)
	}
}

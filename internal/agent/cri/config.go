package cri

import (
	"fmt"
	"maps"
	"strconv"
	"strings"

	v1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/svcnet/svcnet/internal/agent/runtime"
)

// cpuPeriod is the CFS period CPU limits are expressed in (100 ms), as
// kubelet's.
const cpuPeriod = 100000

// SandboxInput is what a pod's sandbox is made of.
type SandboxInput struct {
	Pod *v1.Pod
	// Hostname of the pod (ignored for hostNetwork pods).
	Hostname string
	// LogDir is the pod's log directory; containers log to
	// <LogDir>/<container>/<attempt>.log.
	LogDir string
	// DNS is the pod's resolv.conf content (nil: the runtime's default).
	DNS *runtimeapi.DNSConfig
}

// SandboxConfig returns the sandbox configuration of in.Pod: metadata and
// kubelet's labels, hostname, DNS, the containers' hostPorts (published by
// the CNI portmap plugin) and the namespaces it shares with the node.
func SandboxConfig(in SandboxInput) *runtimeapi.PodSandboxConfig {
	p := in.Pod
	labels := maps.Clone(p.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	labels[LabelPodName], labels[LabelPodNamespace], labels[LabelPodUID] = p.Name, p.Namespace, string(p.UID)
	cfg := &runtimeapi.PodSandboxConfig{
		Metadata:     &runtimeapi.PodSandboxMetadata{Name: p.Name, Namespace: p.Namespace, Uid: string(p.UID)},
		Hostname:     in.Hostname,
		LogDirectory: in.LogDir,
		DnsConfig:    in.DNS,
		Labels:       labels,
		Annotations:  maps.Clone(p.Annotations),
		Linux: &runtimeapi.LinuxPodSandboxConfig{SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{
			NamespaceOptions: namespaces(p),
		}},
	}
	sc := p.Spec.SecurityContext
	if sc != nil {
		lsc := cfg.Linux.SecurityContext
		if sc.RunAsUser != nil {
			lsc.RunAsUser = &runtimeapi.Int64Value{Value: *sc.RunAsUser}
		}
		if sc.RunAsGroup != nil {
			lsc.RunAsGroup = &runtimeapi.Int64Value{Value: *sc.RunAsGroup}
		}
		lsc.SupplementalGroups = supplementalGroups(sc)
		if len(sc.Sysctls) > 0 {
			cfg.Linux.Sysctls = map[string]string{}
			for _, s := range sc.Sysctls {
				cfg.Linux.Sysctls[s.Name] = s.Value
			}
		}
	}
	if p.Spec.HostNetwork {
		cfg.Hostname = ""
	}
	for _, c := range p.Spec.Containers {
		for _, port := range c.Ports {
			if port.HostPort == 0 {
				continue
			}
			proto := runtimeapi.Protocol_TCP
			switch port.Protocol {
			case v1.ProtocolUDP:
				proto = runtimeapi.Protocol_UDP
			case v1.ProtocolSCTP:
				proto = runtimeapi.Protocol_SCTP
			}
			cfg.PortMappings = append(cfg.PortMappings, &runtimeapi.PortMapping{Protocol: proto,
				ContainerPort: port.ContainerPort, HostPort: port.HostPort, HostIp: port.HostIP})
		}
	}
	return cfg
}

func namespaces(p *v1.Pod) *runtimeapi.NamespaceOption {
	ns := &runtimeapi.NamespaceOption{Network: runtimeapi.NamespaceMode_POD, Pid: runtimeapi.NamespaceMode_CONTAINER,
		Ipc: runtimeapi.NamespaceMode_POD}
	if p.Spec.HostNetwork {
		ns.Network = runtimeapi.NamespaceMode_NODE
	}
	if p.Spec.HostPID {
		ns.Pid = runtimeapi.NamespaceMode_NODE
	} else if p.Spec.ShareProcessNamespace != nil && *p.Spec.ShareProcessNamespace {
		ns.Pid = runtimeapi.NamespaceMode_POD
	}
	if p.Spec.HostIPC {
		ns.Ipc = runtimeapi.NamespaceMode_NODE
	}
	return ns
}

func supplementalGroups(sc *v1.PodSecurityContext) []int64 {
	groups := append([]int64(nil), sc.SupplementalGroups...)
	if sc.FSGroup != nil {
		groups = append(groups, *sc.FSGroup)
	}
	return groups
}

// ContainerInput is what one container's configuration is made of.
type ContainerInput struct {
	Pod       *v1.Pod
	Container *v1.Container
	// Image is the status of the container's image (its user).
	Image *runtimeapi.Image
	// Env holds NAME=value entries; Command and Args are already expanded.
	Env           []string
	Command, Args []string
	// Mounts are the container's volume mounts, plus the pod's hosts file.
	Mounts []runtime.Mount
}

// ContainerConfig returns the container configuration of in, or an error
// when the pod's security settings cannot be met (a runAsNonRoot container
// whose image runs as root), which kubelet reports as
// CreateContainerConfigError.
func ContainerConfig(in ContainerInput) (*runtimeapi.ContainerConfig, error) {
	c, p := in.Container, in.Pod
	cfg := &runtimeapi.ContainerConfig{
		Image:      &runtimeapi.ImageSpec{Image: c.Image},
		Command:    in.Command,
		Args:       in.Args,
		WorkingDir: c.WorkingDir,
		Stdin:      c.Stdin,
		StdinOnce:  c.StdinOnce,
		Tty:        c.TTY,
		Labels:     map[string]string{},
		Annotations: map[string]string{
			"io.kubernetes.container.terminationMessagePath": c.TerminationMessagePath,
		},
	}
	if in.Image != nil && in.Image.Id != "" {
		cfg.Image.Image = in.Image.Id
		cfg.Image.UserSpecifiedImage = c.Image
	}
	for _, kv := range in.Env {
		k, v, _ := strings.Cut(kv, "=")
		cfg.Envs = append(cfg.Envs, &runtimeapi.KeyValue{Key: k, Value: []byte(v)})
	}
	for _, m := range in.Mounts {
		cfg.Mounts = append(cfg.Mounts, &runtimeapi.Mount{ContainerPath: m.Target, HostPath: m.Source,
			Readonly: m.ReadOnly})
	}
	sc, err := securityContext(p, c, in.Image)
	if err != nil {
		return nil, err
	}
	cfg.Linux = &runtimeapi.LinuxContainerConfig{Resources: resources(c), SecurityContext: sc}
	return cfg, nil
}

// resources turns requests and limits into cgroup settings, as kubelet
// does: CPU shares from the request, a CFS quota from the limit, the
// memory limit in bytes.
func resources(c *v1.Container) *runtimeapi.LinuxContainerResources {
	r := &runtimeapi.LinuxContainerResources{CpuShares: 2}
	cpuReq := c.Resources.Requests.Cpu()
	if cpuReq.IsZero() {
		cpuReq = c.Resources.Limits.Cpu()
	}
	if !cpuReq.IsZero() {
		r.CpuShares = max(2, cpuReq.MilliValue()*1024/1000)
	}
	if lim := c.Resources.Limits.Cpu(); !lim.IsZero() {
		r.CpuPeriod = cpuPeriod
		r.CpuQuota = max(1000, lim.MilliValue()*cpuPeriod/1000)
	}
	if lim := c.Resources.Limits.Memory(); !lim.IsZero() {
		r.MemoryLimitInBytes = lim.Value()
	}
	return r
}

// securityContext merges the pod's and the container's security context
// (the container's wins) into the runtime's.
func securityContext(p *v1.Pod, c *v1.Container, img *runtimeapi.Image) (*runtimeapi.LinuxContainerSecurityContext, error) {
	psc, csc := p.Spec.SecurityContext, c.SecurityContext
	if psc == nil {
		psc = &v1.PodSecurityContext{}
	}
	if csc == nil {
		csc = &v1.SecurityContext{}
	}
	sc := &runtimeapi.LinuxContainerSecurityContext{NamespaceOptions: namespaces(p),
		SupplementalGroups: supplementalGroups(psc)}
	runAsUser := first(csc.RunAsUser, psc.RunAsUser)
	if runAsUser != nil {
		sc.RunAsUser = &runtimeapi.Int64Value{Value: *runAsUser}
	}
	if g := first(csc.RunAsGroup, psc.RunAsGroup); g != nil {
		sc.RunAsGroup = &runtimeapi.Int64Value{Value: *g}
	}
	if nonRoot := first(csc.RunAsNonRoot, psc.RunAsNonRoot); nonRoot != nil && *nonRoot {
		if err := verifyNonRoot(runAsUser, img); err != nil {
			return nil, err
		}
	}
	if csc.Privileged != nil {
		sc.Privileged = *csc.Privileged
	}
	if csc.ReadOnlyRootFilesystem != nil {
		sc.ReadonlyRootfs = *csc.ReadOnlyRootFilesystem
	}
	if csc.AllowPrivilegeEscalation != nil {
		sc.NoNewPrivs = !*csc.AllowPrivilegeEscalation
	}
	if caps := csc.Capabilities; caps != nil {
		sc.Capabilities = &runtimeapi.Capability{}
		for _, c := range caps.Add {
			sc.Capabilities.AddCapabilities = append(sc.Capabilities.AddCapabilities, capName(c))
		}
		for _, c := range caps.Drop {
			sc.Capabilities.DropCapabilities = append(sc.Capabilities.DropCapabilities, capName(c))
		}
	}
	seccomp := csc.SeccompProfile
	if seccomp == nil {
		seccomp = psc.SeccompProfile
	}
	if seccomp != nil {
		switch seccomp.Type {
		case v1.SeccompProfileTypeRuntimeDefault:
			sc.Seccomp = &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_RuntimeDefault}
		case v1.SeccompProfileTypeUnconfined:
			sc.Seccomp = &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_Unconfined}
		case v1.SeccompProfileTypeLocalhost:
			if seccomp.LocalhostProfile != nil {
				sc.Seccomp = &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_Localhost,
					LocalhostRef: *seccomp.LocalhostProfile}
			}
		}
	}
	if !sc.Privileged {
		// The paths kubelet masks and makes read-only in /proc and /sys
		// unless procMount is Unmasked; the runtime applies them as given.
		sc.MaskedPaths = maskedPaths
		sc.ReadonlyPaths = readonlyPaths
		if csc.ProcMount != nil && *csc.ProcMount == v1.UnmaskedProcMount {
			sc.MaskedPaths, sc.ReadonlyPaths = []string{}, []string{}
		}
	}
	return sc, nil
}

// The /proc and /sys paths a container does not see (masked) or cannot
// write (read-only) by default.
var (
	maskedPaths = []string{"/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
		"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
		"/sys/devices/virtual/powercap"}
	readonlyPaths = []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}
)

// verifyNonRoot refuses a container that would run as root: by its
// runAsUser, else by its image's user.
func verifyNonRoot(runAsUser *int64, img *runtimeapi.Image) error {
	if runAsUser != nil {
		if *runAsUser == 0 {
			return fmt.Errorf("container's runAsUser breaks non-root policy")
		}
		return nil
	}
	if img == nil {
		return fmt.Errorf("container has runAsNonRoot and the image's user is unknown")
	}
	if img.Uid != nil {
		if img.Uid.Value == 0 {
			return fmt.Errorf("container has runAsNonRoot and image will run as root")
		}
		return nil
	}
	user, _, _ := strings.Cut(img.Username, ":")
	if user == "" || user == "root" {
		return fmt.Errorf("container has runAsNonRoot and image will run as root")
	}
	if uid, err := strconv.ParseInt(user, 10, 64); err == nil {
		if uid == 0 {
			return fmt.Errorf("container has runAsNonRoot and image will run as root")
		}
		return nil
	}
	return fmt.Errorf("container has runAsNonRoot and image has non-numeric user (%s), cannot verify user is non-root", user)
}

func capName(c v1.Capability) string {
	s := strings.ToUpper(string(c))
	if s == "ALL" || strings.HasPrefix(s, "CAP_") {
		return s
	}
	return "CAP_" + s
}

func first[T any](a, b *T) *T {
	if a != nil {
		return a
	}
	return b
}

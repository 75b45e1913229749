package agent

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/svcnet/svcnet/internal/agent/cri"
	"github.com/svcnet/svcnet/internal/agent/dnsconfig"
	"github.com/svcnet/svcnet/internal/agent/podnet"
	"github.com/svcnet/svcnet/internal/agent/runtime"
	"github.com/svcnet/svcnet/internal/agent/volumes"
)

// maxSandboxRetry bounds the growing delay between attempts to make a
// pod's sandbox (each failure is an event).
const maxSandboxRetry = 30 * time.Second

// startCRI is start for a container runtime: the pod's volumes, its
// sandbox (network from the runtime's CNI plugins), the init containers run
// to completion, then the containers with their probes. A sandbox an
// earlier agent made is adopted with its containers.
func (w *podWorker) startCRI(ctx context.Context) error {
	pod, _ := w.current()
	a := w.a
	dir := w.dir()
	if err := writePodMeta(dir, pod); err != nil {
		return err
	}
	vols, err := w.setupVolumes(ctx)
	if err != nil {
		return fmt.Errorf("setting up volumes: %w", err)
	}
	hostname, domain := dnsconfig.Hostname(pod, a.cfg.ClusterDomain)
	rc := dnsconfig.ForPod(a.dns, pod)
	sbCfg := cri.SandboxConfig(cri.SandboxInput{Pod: pod, Hostname: hostname,
		LogDir: filepath.Dir(a.LogPath(pod.Namespace, pod.Name, "x")),
		DNS:    &runtimeapi.DNSConfig{Servers: rc.Nameservers, Searches: rc.Searches, Options: rc.Options}})
	if err := os.MkdirAll(sbCfg.LogDirectory, 0o755); err != nil {
		return fmt.Errorf("creating log dir: %w", err)
	}
	var sb cri.Sandbox
	for retry := volumeRetry; ; retry = min(2*retry, maxSandboxRetry) {
		if sb, err = a.cri.RunSandbox(ctx, sbCfg); err == nil {
			break
		}
		w.event(ctx, v1.EventTypeWarning, "FailedCreatePodSandBox", err.Error())
		if !sleepCtx(ctx, retry) || w.terminating() {
			return err
		}
	}
	ip := sb.IP
	if pod.Spec.HostNetwork || !ip.IsValid() {
		if ip, err = netip.ParseAddr(a.cfg.NodeIP); err != nil {
			return fmt.Errorf("hostNetwork pod on a node without an IP (%q): %w", a.cfg.NodeIP, err)
		}
	}
	hosts := filepath.Join(dir, "hosts")
	if err := os.WriteFile(hosts, []byte(dnsconfig.Hosts(pod, []string{ip.String()}, hostname, domain)), 0o644); err != nil {
		return fmt.Errorf("writing hosts: %w", err)
	}
	w.mu.Lock()
	w.sandbox = &podnet.Sandbox{IP: ip}
	w.startTime = metav1.Now()
	w.mu.Unlock()
	if !sb.Adopted {
		w.syncStatus(ctx)
	}
	auths := cri.Auths{}
	for _, ref := range pod.Spec.ImagePullSecrets {
		s, err := a.cfg.Client.CoreV1().Secrets(pod.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
		if err != nil {
			a.log.Warn("Skipped image pull secret", "pod", pod.Namespace+"/"+pod.Name, "secret", ref.Name, "err", err)
			continue
		}
		if err := auths.AddSecret(s); err != nil {
			a.log.Warn("Skipped image pull secret", "pod", pod.Namespace+"/"+pod.Name, "err", err)
		}
	}
	mkSpec := func(c *v1.Container, policy runtime.RestartPolicy) cri.ContainerSpec {
		return cri.ContainerSpec{Name: c.Name, Image: c.Image, PullPolicy: c.ImagePullPolicy, Auths: auths,
			Sandbox: sb, RestartPolicy: policy, Config: func(img *runtimeapi.Image) (*runtimeapi.ContainerConfig, error) {
				env, err := a.containerEnv(ctx, pod, c, ip.String())
				if err != nil {
					return nil, err
				}
				ms, err := volumes.Mounts(c, vols)
				if err != nil {
					return nil, err
				}
				if !pod.Spec.HostNetwork {
					ms = append(ms, runtime.Mount{Source: hosts, Target: "/etc/hosts"})
				}
				vals := envMap(env)
				return cri.ContainerConfig(cri.ContainerInput{Pod: pod, Container: c, Image: img, Env: env,
					Command: expandAll(c.Command, vals), Args: expandAll(c.Args, vals), Mounts: ms})
			}}
	}
	policy := runtime.RestartPolicy(pod.Spec.RestartPolicy)
	if policy == "" {
		policy = runtime.RestartAlways
	}
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		if isSidecar(c) {
			sc := a.cri.StartContainer(ctx, mkSpec(c, runtime.RestartAlways), func() { signal(w.change) })
			if err := w.startSidecar(ctx, c, sc, execIn(sc), ip.String(), sb.Adopted); err != nil {
				return err
			}
			continue
		}
		initPolicy := runtime.RestartOnFailure
		if policy == runtime.RestartNever {
			initPolicy = runtime.RestartNever
		}
		ic := a.cri.StartContainer(ctx, mkSpec(c, initPolicy), func() { signal(w.change) })
		w.mu.Lock()
		w.containers[c.Name] = ic
		w.mu.Unlock()
		if err := w.awaitInit(ctx, ic); err != nil {
			return err
		}
		if t := ic.State().Terminated; t == nil || t.ExitCode != 0 {
			w.mu.Lock()
			w.initFailed = true
			w.mu.Unlock()
			w.syncStatus(ctx)
			return fmt.Errorf("init container %s failed", c.Name)
		}
	}
	w.mu.Lock()
	w.initDone = true
	w.mu.Unlock()
	for i := range pod.Spec.Containers {
		c := &pod.Spec.Containers[i]
		cc := a.cri.StartContainer(ctx, mkSpec(c, policy), func() { signal(w.change) })
		ready, started := initialProbeState(pod, c, sb.Adopted)
		w.mu.Lock()
		w.containers[c.Name] = cc
		w.ready[c.Name] = ready
		w.started[c.Name] = started
		w.mu.Unlock()
		go w.probe(ctx, c, cc, execIn(cc), ip.String())
	}
	go w.refreshVolumes(ctx)
	signal(w.change)
	return nil
}

// execIn runs a probe's command in a container of the CRI runtime.
func execIn(cc *cri.Container) probeExec {
	return func(ctx context.Context, argv []string) (int, error) {
		_, code, err := cc.ExecSync(ctx, argv, 0)
		return code, err
	}
}

// isSidecar tells an init container that runs beside the pod's containers
// (restartPolicy: Always) from one that runs to completion before them.
func isSidecar(c *v1.Container) bool {
	return c.RestartPolicy != nil && *c.RestartPolicy == v1.ContainerRestartPolicyAlways
}

// startSidecar registers a started sidecar container, starts its probes
// and waits until it has started (running, and its startup probe passed),
// when the next init container may begin, as kubelet does.
func (w *podWorker) startSidecar(ctx context.Context, c *v1.Container, h containerHandle, exec probeExec, ip string,
	adopted bool) error {
	pod, _ := w.current()
	ready, started := initialProbeState(pod, c, adopted)
	w.mu.Lock()
	w.containers[c.Name] = h
	w.ready[c.Name] = ready
	w.started[c.Name] = started
	w.mu.Unlock()
	go w.probe(ctx, c, h, exec, ip)
	for {
		w.mu.Lock()
		started := w.started[c.Name]
		w.mu.Unlock()
		if started && h.State().Phase == runtime.Running {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-w.ending:
			return errPodTerminating
		case <-w.change:
			w.syncStatus(ctx)
		}
	}
}

// awaitInit waits for an init container's end, keeping the pod's status
// up to date meanwhile, unless the pod terminates or ctx ends first.
func (w *podWorker) awaitInit(ctx context.Context, c containerHandle) error {
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-w.ending:
			return errPodTerminating
		case <-w.change:
			w.syncStatus(ctx)
		case <-c.Done():
			return nil
		}
	}
}

// stopCRI runs the containers' preStop hooks, stops them within the grace
// period and removes the pod's sandbox.
func (w *podWorker) stopCRI(ctx context.Context, grace time.Duration) {
	pod, _ := w.current()
	w.mu.Lock()
	var ip string
	if w.sandbox != nil {
		ip = w.sandbox.IP.String()
	}
	handles := map[string]*cri.Container{}
	for name, c := range w.containers {
		if cc, ok := c.(*cri.Container); ok {
			handles[name] = cc
		}
	}
	w.mu.Unlock()
	deadline := time.Now().Add(grace)
	stop := func(c v1.Container) {
		cc, ok := handles[c.Name]
		if !ok {
			return
		}
		if h := c.Lifecycle; h != nil && h.PreStop != nil && cc.State().Phase == runtime.Running {
			hctx, cancel := context.WithDeadline(ctx, deadline)
			w.preStop(hctx, cc, &c, h.PreStop, ip)
			cancel()
		}
		_ = cc.Stop(ctx, max(time.Until(deadline), 2*time.Second))
	}
	var wg sync.WaitGroup
	for _, c := range pod.Spec.Containers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stop(c)
		}()
	}
	wg.Wait()
	// Sidecars outlive the containers they serve, and stop in reverse
	// order, as under kubelet.
	for i := len(pod.Spec.InitContainers) - 1; i >= 0; i-- {
		stop(pod.Spec.InitContainers[i])
	}
	if err := w.a.cri.RemovePod(ctx, string(pod.UID)); err != nil {
		w.a.log.Warn("Failed removing pod sandbox", "pod", pod.Namespace+"/"+pod.Name, "err", err)
	}
}

// preStop runs a container's preStop hook (exec or httpGet); its failure
// is an event, not an obstacle to stopping.
func (w *podWorker) preStop(ctx context.Context, cc *cri.Container, c *v1.Container, h *v1.LifecycleHandler, ip string) {
	var err error
	switch {
	case h.Exec != nil:
		var code int
		if _, code, err = cc.ExecSync(ctx, h.Exec.Command, 0); err == nil && code != 0 {
			err = fmt.Errorf("command exited with %d", code)
		}
	case h.HTTPGet != nil:
		host := h.HTTPGet.Host
		if host == "" {
			host = ip
		}
		port := h.HTTPGet.Port.String()
		if _, perr := strconv.Atoi(port); perr != nil {
			// A named port: the container's port of that name.
			for _, p := range c.Ports {
				if p.Name == port {
					port = strconv.Itoa(int(p.ContainerPort))
				}
			}
		}
		scheme := strings.ToLower(string(h.HTTPGet.Scheme))
		if scheme == "" {
			scheme = "http"
		}
		var req *http.Request
		req, err = http.NewRequestWithContext(ctx, http.MethodGet,
			scheme+"://"+net.JoinHostPort(host, port)+h.HTTPGet.Path, nil)
		if err == nil {
			var resp *http.Response
			if resp, err = http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
			}
		}
	}
	if err != nil {
		w.event(ctx, v1.EventTypeWarning, "FailedPreStopHook", fmt.Sprintf("PreStop hook failed: %v", err))
	}
}

// probeExec runs a probe's command in a container.
type probeExec = func(ctx context.Context, argv []string) (int, error)

func envMap(env []string) map[string]string {
	m := make(map[string]string, len(env))
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}

func expandAll(in []string, vals map[string]string) []string {
	if in == nil {
		return nil
	}
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = expand(s, vals)
	}
	return out
}

// sleepCtx waits d unless ctx ends first (false then).
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

package agent

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/svcnet/svcnet/internal/agent/dnsconfig"
	"github.com/svcnet/svcnet/internal/agent/images"
	"github.com/svcnet/svcnet/internal/agent/podnet"
	"github.com/svcnet/svcnet/internal/agent/probe"
	"github.com/svcnet/svcnet/internal/agent/runtime"
	"github.com/svcnet/svcnet/internal/agent/volumes"
)

// defaultGrace is the termination grace period when the pod sets none.
const defaultGrace = 30 * time.Second

// containerHandle is a supervised container of either runtime: the
// process runtime's *runtime.Container or the CRI runtime's *cri.Container.
type containerHandle interface {
	State() runtime.State
	Done() <-chan struct{}
	Kill()
	Stop(ctx context.Context, grace time.Duration) error
}

// podWorker owns one pod: its sandbox, containers, probes and status.
type podWorker struct {
	a      *Agent
	notify chan struct{}
	change chan struct{}
	// ending is closed once the pod is deleted or being deleted: waits
	// of start (init containers) end with it.
	ending     chan struct{}
	endingOnce sync.Once

	mu         sync.Mutex
	pod        *v1.Pod
	deleted    bool
	sandbox    *podnet.Sandbox
	startTime  metav1.Time
	initDone   bool
	initFailed bool
	containers map[string]containerHandle
	specs      map[string]runtime.ContainerSpec
	ready      map[string]bool
	started    map[string]bool
	volumes    *volumes.Manager
}

func newPodWorker(a *Agent, p *v1.Pod) *podWorker {
	return &podWorker{
		a: a, pod: p,
		notify:     make(chan struct{}, 1),
		change:     make(chan struct{}, 1),
		ending:     make(chan struct{}),
		containers: map[string]containerHandle{},
		specs:      map[string]runtime.ContainerSpec{},
		ready:      map[string]bool{},
		started:    map[string]bool{},
	}
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// update hands the worker the latest pod object.
func (w *podWorker) update(p *v1.Pod, deleted bool) {
	w.mu.Lock()
	w.pod = p
	w.deleted = w.deleted || deleted
	w.mu.Unlock()
	if deleted || p.DeletionTimestamp != nil {
		w.endingOnce.Do(func() { close(w.ending) })
	}
	signal(w.notify)
}

func (w *podWorker) current() (*v1.Pod, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.pod, w.deleted
}

func (w *podWorker) terminating() bool {
	p, deleted := w.current()
	return deleted || p.DeletionTimestamp != nil
}

func (w *podWorker) dir() string {
	p, _ := w.current()
	return filepath.Join(w.a.cfg.DataDir, "pods", string(p.UID))
}

// run drives the pod from sandbox creation to teardown.
func (w *podWorker) run(ctx context.Context) {
	pod, _ := w.current()
	log := w.a.log.With("pod", pod.Namespace+"/"+pod.Name)
	podCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	if pod.Status.Phase == v1.PodSucceeded || pod.Status.Phase == v1.PodFailed {
		// A finished pod from before a restart is not run again.
		w.waitTerminating(ctx)
	} else if !w.terminating() {
		if err := w.start(podCtx); err != nil && !errors.Is(err, errPodTerminating) {
			log.Warn("Failed starting pod", "err", err)
		}
		w.loop(ctx)
	}
	if ctx.Err() != nil {
		return
	}
	// Readiness probes go on while the containers stop, as under
	// kubelet: a terminating pod whose probe fails turns unready (and
	// leaves its Services' ready endpoints) before its grace period ends.
	stopped := make(chan struct{})
	go func() {
		for {
			select {
			case <-stopped:
				return
			case <-w.change:
				w.syncStatus(ctx)
			}
		}
	}()
	w.stop(ctx)
	close(stopped)
	log.Info("Removed pod")
}

func (w *podWorker) waitTerminating(ctx context.Context) {
	for !w.terminating() {
		select {
		case <-ctx.Done():
			return
		case <-w.notify:
		}
	}
}

func (w *podWorker) loop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.notify:
			if w.terminating() {
				return
			}
		case <-w.change:
			w.syncStatus(ctx)
		}
	}
}

// start creates the sandbox, runs the init containers to completion and
// starts the containers with their probes.
func (w *podWorker) start(ctx context.Context) error {
	if w.a.cri != nil {
		return w.startCRI(ctx)
	}
	pod, _ := w.current()
	a := w.a
	dir := w.dir()
	// A pod directory from before an agent restart: its containers are
	// resumed from their records rather than started afresh.
	_, statErr := os.Stat(dir)
	resuming := statErr == nil
	if resuming {
		w.repinNetns(pod)
	}
	sb, err := w.setupNetwork(ctx, pod)
	if err != nil {
		return err
	}
	ip := sb.IP.String()
	hostname, domain := dnsconfig.Hostname(pod, a.cfg.ClusterDomain)
	if pod.Spec.HostNetwork {
		// The node's name, as a container in the host's UTS namespace
		// sees it under kubelet.
		if h, err := os.Hostname(); err == nil {
			hostname = h
		}
	}
	if err := writePodMeta(dir, pod); err != nil {
		return err
	}
	resolv, hosts := filepath.Join(dir, "resolv.conf"), filepath.Join(dir, "hosts")
	if err := os.WriteFile(resolv, []byte(dnsconfig.ForPod(a.dns, pod).String()), 0o644); err != nil {
		return fmt.Errorf("writing resolv.conf: %w", err)
	}
	if err := os.WriteFile(hosts, []byte(dnsconfig.Hosts(pod, []string{ip}, hostname, domain)), 0o644); err != nil {
		return fmt.Errorf("writing hosts: %w", err)
	}
	// The pod is reported without its sandbox (no IP) until its volumes
	// are ready, as kubelet mounts them before it makes the sandbox.
	vols, err := w.setupVolumes(ctx)
	if err != nil {
		return fmt.Errorf("setting up volumes: %w", err)
	}
	w.mu.Lock()
	w.sandbox = &sb
	w.startTime = metav1.Now()
	w.mu.Unlock()
	if !resuming {
		// A resumed pod's status is written once its containers are
		// re-adopted, so it never shows them as being created.
		w.syncStatus(ctx)
	}

	base := runtime.ContainerSpec{NetnsPath: sb.NetnsPath, Hostname: hostname, ResolvConf: resolv, Hosts: hosts}
	mkSpec := func(c *v1.Container, policy runtime.RestartPolicy) (runtime.ContainerSpec, error) {
		env, err := a.containerEnv(ctx, pod, c, ip)
		if err != nil {
			return runtime.ContainerSpec{}, err
		}
		s := base
		s.Name, s.Env, s.RestartPolicy = c.Name, env, policy
		s.Argv = images.Argv(c, a.cfg.SelfArgv)
		if s.Mounts, err = volumes.Mounts(c, vols); err != nil {
			return runtime.ContainerSpec{}, err
		}
		s.LogPath = a.LogPath(pod.Namespace, pod.Name, c.Name)
		s.StatePath = containerStatePath(dir, c.Name)
		if c.Stdin {
			s.StdinPath = filepath.Join(dir, containersSubdir, c.Name+".stdin")
			s.StdinOnce = c.StdinOnce
		}
		if c.WorkingDir != "" {
			if st, err := os.Stat(c.WorkingDir); err == nil && st.IsDir() {
				s.Dir = c.WorkingDir
			}
		}
		return s, nil
	}
	policy := runtime.RestartPolicy(pod.Spec.RestartPolicy)
	if policy == "" {
		policy = runtime.RestartAlways
	}
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		if isSidecar(c) {
			s, err := mkSpec(c, runtime.RestartAlways)
			if err != nil {
				return err
			}
			adopted := resuming && runtime.LivePid(s.StatePath) != 0
			sc := a.rt.StartContainer(ctx, s, func() { signal(w.change) })
			w.mu.Lock()
			w.specs[c.Name] = s
			w.mu.Unlock()
			if err := w.startSidecar(ctx, c, sc, w.processExec(s), ip, adopted); err != nil {
				return err
			}
			continue
		}
		s, err := mkSpec(c, runtime.RestartNever)
		if err != nil {
			return err
		}
		for attempt := 0; ; attempt++ {
			if attempt > 0 {
				// Only the first run resumes an earlier record.
				_ = os.Remove(s.StatePath)
			}
			rc := a.rt.StartContainer(ctx, s, func() { signal(w.change) })
			w.mu.Lock()
			w.containers[c.Name] = rc
			w.mu.Unlock()
			if err := w.awaitInit(ctx, rc); err != nil {
				return err
			}
			if t := rc.State().Terminated; t != nil && t.ExitCode == 0 {
				break
			}
			if policy == runtime.RestartNever {
				w.mu.Lock()
				w.initFailed = true
				w.mu.Unlock()
				w.syncStatus(ctx)
				return fmt.Errorf("init container %s failed", c.Name)
			}
			timer := time.NewTimer(a.rtBackoff())
			select {
			case <-ctx.Done():
				timer.Stop()
				return ctx.Err()
			case <-timer.C:
			}
		}
	}
	w.mu.Lock()
	w.initDone = true
	w.mu.Unlock()
	for i := range pod.Spec.Containers {
		c := &pod.Spec.Containers[i]
		s, err := mkSpec(c, policy)
		if err != nil {
			return err
		}
		// Decided before the runtime resumes: a process it re-adopts.
		adopted := resuming && runtime.LivePid(s.StatePath) != 0
		rc := a.rt.StartContainer(ctx, s, func() { signal(w.change) })
		ready, started := initialProbeState(pod, c, adopted)
		w.mu.Lock()
		w.containers[c.Name] = rc
		w.specs[c.Name] = s
		w.ready[c.Name] = ready
		w.started[c.Name] = started
		w.mu.Unlock()
		go w.probe(ctx, c, rc, w.processExec(s), ip)
	}
	go w.refreshVolumes(ctx)
	signal(w.change)
	return nil
}

// repinNetns pins the pod's network namespace again from one of its live
// processes if the pin was lost with an earlier agent's mount namespace;
// without it SetupPod would give the pod a new namespace and address.
func (w *podWorker) repinNetns(pod *v1.Pod) {
	records, _ := filepath.Glob(filepath.Join(w.dir(), containersSubdir, "*.json"))
	for _, rec := range records {
		pid := runtime.LivePid(rec)
		if pid == 0 {
			continue
		}
		repinned, err := w.a.net.Repin(string(pod.UID), fmt.Sprintf("/proc/%d/ns/net", pid))
		if err != nil {
			w.a.log.Warn("Failed re-pinning pod network namespace", "pod", pod.Namespace+"/"+pod.Name, "err", err)
			continue
		}
		if repinned {
			w.a.log.Info("Re-pinned pod network namespace", "pod", pod.Namespace+"/"+pod.Name, "pid", pid)
		}
		return
	}
}

// setupNetwork makes (or finds again) the pod's sandbox: its own network
// namespace on the bridge with its hostPorts published, or, for a
// hostNetwork pod, the node's namespace and address.
func (w *podWorker) setupNetwork(ctx context.Context, pod *v1.Pod) (podnet.Sandbox, error) {
	a := w.a
	if pod.Spec.HostNetwork {
		ip, err := netip.ParseAddr(a.cfg.NodeIP)
		if err != nil {
			return podnet.Sandbox{}, fmt.Errorf("hostNetwork pod on a node without an IP (%q): %w", a.cfg.NodeIP, err)
		}
		return a.net.SetupHostNetworkPod(string(pod.UID), ip)
	}
	sb, err := a.net.SetupPod(string(pod.UID))
	if err != nil {
		return podnet.Sandbox{}, fmt.Errorf("setting up pod network: %w", err)
	}
	if err := a.publishHostPorts(ctx, pod); err != nil {
		return podnet.Sandbox{}, fmt.Errorf("publishing host ports: %w", err)
	}
	return sb, nil
}

// processExec runs a probe's command in the sandbox of a process-runtime
// container.
func (w *podWorker) processExec(s runtime.ContainerSpec) probeExec {
	return func(ctx context.Context, argv []string) (int, error) {
		_, code, err := w.a.rt.Exec(ctx, s, argv)
		return code, err
	}
}

// initialProbeState is a container's readiness and startedness before its
// probes first answer: true without a probe; for a container re-adopted
// from an earlier agent, what that agent reported, until the probes say
// otherwise (a restart does not take endpoints away).
func initialProbeState(pod *v1.Pod, c *v1.Container, adopted bool) (ready, started bool) {
	ready, started = c.ReadinessProbe == nil, c.StartupProbe == nil
	if !adopted {
		return ready, started
	}
	for _, cs := range pod.Status.ContainerStatuses {
		if cs.Name == c.Name && cs.State.Running != nil {
			ready = ready || cs.Ready
			started = started || (cs.Started != nil && *cs.Started)
		}
	}
	return ready, started
}

func (a *Agent) rtBackoff() time.Duration {
	if a.cfg.InitialBackoff > 0 {
		return a.cfg.InitialBackoff
	}
	return runtime.DefaultInitialBackoff
}

// probe runs the startup probe until it succeeds, then readiness and
// liveness; a liveness failure kills the container, and liveness starts
// over once it runs again.
func (w *podWorker) probe(ctx context.Context, c *v1.Container, rc containerHandle, exec probeExec, ip string) {
	target := probe.Target{PodIP: ip, Container: c, Exec: exec}
	setFlag := func(m map[string]bool, v bool) {
		w.mu.Lock()
		changed := m[c.Name] != v
		m[c.Name] = v
		w.mu.Unlock()
		if changed {
			signal(w.change)
		}
	}
	w.mu.Lock()
	started, ready := w.started[c.Name], w.ready[c.Name]
	w.mu.Unlock()
	if c.StartupProbe != nil && !started {
		sctx, cancel := context.WithCancel(ctx)
		(&probe.Worker{Probe: c.StartupProbe, Target: target, OnResult: func(ok bool, _ string) {
			if ok {
				setFlag(w.started, true)
				cancel()
			} else {
				rc.Kill()
			}
		}}).Run(sctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
	}
	if c.ReadinessProbe != nil {
		go (&probe.Worker{Probe: c.ReadinessProbe, Target: target, Initial: ready, OnResult: func(ok bool, _ string) {
			setFlag(w.ready, ok)
		}}).Run(ctx)
	}
	// Liveness stops when the pod starts terminating (kubelet counts it
	// a success from then on): a container in its grace period is not
	// restarted.
	for c.LivenessProbe != nil && ctx.Err() == nil && !w.terminating() {
		lctx, cancel := context.WithCancel(ctx)
		go func() {
			select {
			case <-w.ending:
				cancel()
			case <-lctx.Done():
			}
		}()
		restarts := rc.State().RestartCount
		(&probe.Worker{Probe: c.LivenessProbe, Target: target, Initial: true, OnResult: func(ok bool, msg string) {
			if !ok && !w.terminating() {
				w.a.log.Info("Killed container failing its liveness probe", "container", c.Name, "reason", msg)
				rc.Kill()
				cancel()
			}
		}}).Run(lctx)
		cancel()
		// Wait for the next run before probing again.
		for ctx.Err() == nil {
			st := rc.State()
			if st.RestartCount > restarts && st.Phase == runtime.Running {
				break
			}
			select {
			case <-rc.Done():
				return
			case <-ctx.Done():
				return
			case <-w.ending:
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
}

// stop terminates the containers gracefully, removes the sandbox and, if
// the pod object still exists, completes its deletion.
func (w *podWorker) stop(ctx context.Context) {
	pod, deleted := w.current()
	grace := defaultGrace
	if pod.DeletionGracePeriodSeconds != nil {
		grace = time.Duration(*pod.DeletionGracePeriodSeconds) * time.Second
	} else if pod.Spec.TerminationGracePeriodSeconds != nil {
		grace = time.Duration(*pod.Spec.TerminationGracePeriodSeconds) * time.Second
	}
	if w.a.cri != nil {
		w.stopCRI(ctx, grace)
	} else {
		w.stopProcesses(ctx, pod, grace)
	}
	_ = os.RemoveAll(w.dir())
	_ = os.RemoveAll(filepath.Dir(w.a.LogPath(pod.Namespace, pod.Name, "x")))
	if deleted {
		return
	}
	zero := int64(0)
	uid := pod.UID
	err := w.a.cfg.Client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{
		GracePeriodSeconds: &zero, Preconditions: &metav1.Preconditions{UID: &uid}})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		w.a.log.Warn("Failed completing pod deletion", "pod", pod.Namespace+"/"+pod.Name, "err", err)
	}
}

// stopProcesses stops the pod's processes of the process runtime and tears
// down its network.
func (w *podWorker) stopProcesses(ctx context.Context, pod *v1.Pod, grace time.Duration) {
	w.mu.Lock()
	cs := make([]containerHandle, 0, len(w.containers))
	for _, c := range w.containers {
		cs = append(cs, c)
	}
	w.mu.Unlock()
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = c.Stop(ctx, grace)
		}()
	}
	wg.Wait()
	// Processes this agent never supervised (the pod was deleted while no
	// agent ran, or before its containers were re-adopted) are known only
	// from their records: kill them before the records go.
	records, _ := filepath.Glob(filepath.Join(w.dir(), containersSubdir, "*.json"))
	for _, r := range records {
		if _, err := runtime.KillRecorded(r, 10*time.Second); err != nil {
			w.a.log.Warn("Failed killing a container process", "pod", pod.Namespace+"/"+pod.Name, "err", err)
		}
	}
	if err := w.a.net.TeardownPod(string(pod.UID)); err != nil {
		w.a.log.Warn("Failed tearing down pod network", "pod", pod.Namespace+"/"+pod.Name, "err", err)
	}
}

package cri

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	utilexec "k8s.io/utils/exec"

	"github.com/svcnet/svcnet/internal/agent/runtime"
)

// Waiting reasons of a container that could not be made or run, as kubelet
// reports them.
const (
	ReasonContainerCreating          = "ContainerCreating"
	ReasonCreateContainerConfigError = "CreateContainerConfigError"
	ReasonCreateContainerError       = "CreateContainerError"
	ReasonRunContainerError          = "RunContainerError"
	ReasonCrashLoopBackOff           = "CrashLoopBackOff"
)

// ContainerSpec describes one container of a pod's sandbox.
type ContainerSpec struct {
	Name          string
	Image         string
	PullPolicy    v1.PullPolicy
	Auths         Auths
	Sandbox       Sandbox
	RestartPolicy runtime.RestartPolicy
	// Config builds the container's configuration once its image is
	// present (img tells the user the image runs as); an error is reported
	// as CreateContainerConfigError. The supervisor sets Metadata.Attempt
	// and LogPath.
	Config func(img *runtimeapi.Image) (*runtimeapi.ContainerConfig, error)
}

// Container supervises the runs of one container in the runtime. Its
// state is that of the process runtime (runtime.State), so pod status is
// computed the same way for both.
type Container struct {
	r        *Runtime
	spec     ContainerSpec
	onChange func()

	mu      sync.Mutex
	state   runtime.State
	id      string
	attempt uint32
	// prevID is the container of the previous run, kept for its log.
	prevID string
	// imageRef is the image's ID (repo digest) the current run was made of.
	imageRef string

	kill chan struct{}
	stop chan time.Duration
	// stopping is closed by the first Stop: a pull or create under way is
	// abandoned.
	stopping     chan struct{}
	stoppingOnce sync.Once
	done         chan struct{}
}

// StartContainer starts supervising spec: it pulls the image, creates and
// starts the container, restarts it as the restart policy says with
// exponential back-off, and calls onChange (from its own goroutine) after
// every state change. In an adopted sandbox the container of an earlier
// agent is re-adopted. Supervision ends when ctx ends (the container keeps
// running in the runtime), after Stop, or when the policy says not to
// restart.
func (r *Runtime) StartContainer(ctx context.Context, spec ContainerSpec, onChange func()) *Container {
	if onChange == nil {
		onChange = func() {}
	}
	c := &Container{r: r, spec: spec, onChange: onChange,
		state: runtime.State{Phase: runtime.Waiting, Reason: ReasonContainerCreating},
		kill:  make(chan struct{}, 1), stop: make(chan time.Duration, 1), stopping: make(chan struct{}),
		done: make(chan struct{})}
	go c.supervise(ctx)
	return c
}

// State returns a snapshot of the container.
func (c *Container) State() runtime.State {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

// ID returns the runtime's ID of the current run ("" before the first).
func (c *Container) ID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.id
}

// ImageRef returns the ID of the image the current run was made of ("" if
// none yet), as kubelet reports it in imageID.
func (c *Container) ImageRef() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.imageRef
}

// LogPath returns the log file of the current run, or of the previous one;
// "" when there is none.
func (c *Container) LogPath(previous bool) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if previous {
		if c.prevID == "" {
			return ""
		}
		return c.logPath(c.attempt - 1)
	}
	if c.id == "" {
		return ""
	}
	return c.logPath(c.attempt)
}

func (c *Container) logPath(attempt uint32) string {
	return filepath.Join(c.spec.Sandbox.Config.LogDirectory, c.relLogPath(attempt))
}

func (c *Container) relLogPath(attempt uint32) string {
	return filepath.Join(c.spec.Name, fmt.Sprintf("%d.log", attempt))
}

// Done is closed when supervision has ended.
func (c *Container) Done() <-chan struct{} { return c.done }

// Kill stops the running container at once (as a failed liveness probe
// does); the restart policy then decides what happens.
func (c *Container) Kill() {
	select {
	case c.kill <- struct{}{}:
	default:
	}
}

// Stop stops the container (SIGTERM, SIGKILL after grace) without
// restarting it, and waits until supervision ended or ctx ends.
func (c *Container) Stop(ctx context.Context, grace time.Duration) error {
	select {
	case c.stop <- grace:
	default:
	}
	c.stoppingOnce.Do(func() { close(c.stopping) })
	select {
	case <-c.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ExecSync runs argv in the container and returns its output and exit code.
func (c *Container) ExecSync(ctx context.Context, argv []string, timeout time.Duration) ([]byte, int, error) {
	id := c.ID()
	if id == "" {
		return nil, 0, errors.New("container is not running")
	}
	stdout, stderr, err := c.r.rs.ExecSync(quiet(ctx), id, argv, timeout)
	out := append(stdout, stderr...)
	var exitErr utilexec.ExitError
	if errors.As(err, &exitErr) {
		return out, exitErr.ExitStatus(), nil
	}
	return out, 0, err
}

func (c *Container) set(f func(*runtime.State)) {
	c.mu.Lock()
	f(&c.state)
	c.mu.Unlock()
	c.onChange()
}

func (c *Container) supervise(ctx context.Context) {
	defer close(c.done)
	ctx = quiet(ctx)
	running, ended := false, (*runtime.Termination)(nil)
	if c.spec.Sandbox.Adopted {
		running, ended = c.adopt(ctx)
	}
	backoff := c.r.cfg.InitialBackoff
	for ctx.Err() == nil {
		if !running && ended == nil {
			if err := c.create(ctx); err != nil {
				if ctx.Err() != nil || c.isStopping() {
					return
				}
				reason, msg := ReasonCreateContainerError, err.Error()
				var we *waitingError
				if errors.As(err, &we) {
					reason, msg = we.reason, we.msg
				}
				c.set(func(s *runtime.State) { s.Phase, s.Reason, s.Message = runtime.Waiting, reason, msg })
				if reason == ReasonErrImagePull {
					// Shown once, then the back-off, as kubelet does.
					if !c.pause(ctx, min(backoff, time.Second)) {
						return
					}
					c.set(func(s *runtime.State) {
						s.Reason, s.Message = ReasonImagePullBackOff, fmt.Sprintf("Back-off pulling image %q", c.spec.Image)
					})
				}
				if !c.pause(ctx, backoff) {
					return
				}
				backoff = min(2*backoff, c.r.cfg.MaxBackoff)
				continue
			}
			running = true
		}
		if running {
			term, stopped := c.watch(ctx)
			if term == nil {
				return // the agent stops; the container runs on
			}
			running, ended = false, term
			if stopped {
				c.set(func(s *runtime.State) { s.Phase, s.Terminated, s.Reason, s.Message = runtime.Terminated, term, "", "" })
				return
			}
		}
		term := ended
		ended = nil
		if !restarts(c.spec.RestartPolicy, term.ExitCode) {
			c.set(func(s *runtime.State) { s.Phase, s.Terminated, s.Reason, s.Message = runtime.Terminated, term, "", "" })
			return
		}
		if term.FinishedAt.Sub(term.StartedAt) >= backoffReset {
			backoff = c.r.cfg.InitialBackoff
		}
		c.set(func(s *runtime.State) {
			s.Phase, s.Last, s.Terminated = runtime.Waiting, term, nil
			s.Reason = ReasonCrashLoopBackOff
			s.Message = fmt.Sprintf("back-off %s restarting failed container=%s", backoff, c.spec.Name)
		})
		if !c.pause(ctx, backoff) {
			return
		}
		backoff = min(2*backoff, c.r.cfg.MaxBackoff)
		c.mu.Lock()
		c.attempt++
		c.mu.Unlock()
	}
}

// restarts tells whether a run that ended with code is restarted.
func restarts(p runtime.RestartPolicy, code int) bool {
	switch p {
	case runtime.RestartNever:
		return false
	case runtime.RestartOnFailure:
		return code != 0
	}
	return true
}

// pause waits d, or until Stop or ctx; false means supervision ends.
func (c *Container) pause(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-c.stop:
		return false
	case <-t.C:
		return true
	}
}

// adopt finds the container's latest run in an adopted sandbox: a running
// one is watched again, an exited one is reported as the run's end.
func (c *Container) adopt(ctx context.Context) (running bool, ended *runtime.Termination) {
	list, err := c.r.rs.ListContainers(ctx, &runtimeapi.ContainerFilter{PodSandboxId: c.spec.Sandbox.ID,
		LabelSelector: map[string]string{LabelContainerName: c.spec.Name}})
	if err != nil || len(list) == 0 {
		return false, nil
	}
	slices.SortFunc(list, func(a, b *runtimeapi.Container) int {
		return cmp.Compare(a.Metadata.Attempt, b.Metadata.Attempt)
	})
	last := list[len(list)-1]
	c.mu.Lock()
	c.id, c.attempt = last.Id, last.Metadata.Attempt
	c.imageRef = last.ImageRef
	if len(list) > 1 {
		c.prevID = list[len(list)-2].Id
	}
	c.state.RestartCount = int(last.Metadata.Attempt)
	c.mu.Unlock()
	st, err := c.r.rs.ContainerStatus(ctx, last.Id, false)
	if err != nil {
		return false, nil
	}
	switch st.Status.State {
	case runtimeapi.ContainerState_CONTAINER_RUNNING:
		c.set(func(s *runtime.State) {
			s.Phase, s.Reason, s.StartedAt = runtime.Running, "", time.Unix(0, st.Status.StartedAt)
		})
		return true, nil
	case runtimeapi.ContainerState_CONTAINER_EXITED:
		return false, termination(st.Status)
	}
	// Created but never started: made again.
	_ = c.r.rs.RemoveContainer(ctx, last.Id)
	c.mu.Lock()
	c.id = ""
	c.mu.Unlock()
	return false, nil
}

func (c *Container) isStopping() bool {
	select {
	case <-c.stopping:
		return true
	default:
		return false
	}
}

// create pulls the image, creates and starts the container's next run; a
// Stop meanwhile abandons it.
func (c *Container) create(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-c.stopping:
			cancel()
		case <-ctx.Done():
		}
	}()
	c.set(func(s *runtime.State) { s.Phase, s.Reason, s.Message = runtime.Waiting, ReasonContainerCreating, "" })
	sb := c.spec.Sandbox
	img, err := c.r.ensureImage(ctx, c.spec.Image, c.spec.PullPolicy, c.spec.Auths, sb.Config)
	if err != nil {
		return err
	}
	cfg, err := c.spec.Config(img)
	if err != nil {
		return &waitingError{ReasonCreateContainerConfigError, err.Error()}
	}
	c.mu.Lock()
	attempt, prev, cur := c.attempt, c.prevID, c.id
	c.mu.Unlock()
	if cur != "" {
		// The run before this one is kept for `logs --previous`; older
		// ones go.
		if prev != "" {
			_ = c.r.rs.RemoveContainer(ctx, prev)
		}
		prev = cur
	}
	cfg.Metadata = &runtimeapi.ContainerMetadata{Name: c.spec.Name, Attempt: attempt}
	cfg.LogPath = c.relLogPath(attempt)
	if cfg.Labels == nil {
		cfg.Labels = map[string]string{}
	}
	cfg.Labels[LabelContainerName] = c.spec.Name
	for _, k := range []string{LabelPodName, LabelPodNamespace, LabelPodUID} {
		cfg.Labels[k] = sb.Config.Labels[k]
	}
	cctx, cancel := context.WithTimeout(ctx, rpcTimeout)
	defer cancel()
	id, err := c.r.rs.CreateContainer(cctx, sb.ID, cfg, sb.Config)
	if err != nil {
		return &waitingError{ReasonCreateContainerError, err.Error()}
	}
	c.mu.Lock()
	c.id, c.prevID = id, prev
	c.state.RestartCount = int(attempt)
	c.imageRef = imageRef(img)
	c.mu.Unlock()
	if err := c.r.rs.StartContainer(cctx, id); err != nil {
		return &waitingError{ReasonRunContainerError, err.Error()}
	}
	st, err := c.r.rs.ContainerStatus(ctx, id, false)
	started := time.Now()
	if err == nil && st.Status.StartedAt > 0 {
		started = time.Unix(0, st.Status.StartedAt)
	}
	c.set(func(s *runtime.State) { s.Phase, s.Reason, s.Message, s.StartedAt = runtime.Running, "", "", started })
	return nil
}

// watch follows the running container until its run ends (returning how),
// handling Kill and Stop; stopped tells the run ended by Stop. A nil
// termination means ctx ended first.
func (c *Container) watch(ctx context.Context) (term *runtime.Termination, stopped bool) {
	id := c.ID()
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil, false
		case <-c.kill:
			if err := c.r.rs.StopContainer(ctx, id, 0); err != nil {
				c.r.log.Warn("Failed killing container", "container", c.spec.Name, "err", err)
			}
		case grace := <-c.stop:
			if err := c.r.rs.StopContainer(ctx, id, int64(grace.Seconds())); err != nil {
				c.r.log.Warn("Failed stopping container", "container", c.spec.Name, "err", err)
			}
			stopped = true
		case <-t.C:
		}
		st, err := c.r.rs.ContainerStatus(ctx, id, false)
		if err != nil {
			if ctx.Err() != nil {
				return nil, false
			}
			// Gone from the runtime (removed behind the agent's back).
			now := time.Now()
			return &runtime.Termination{ExitCode: 137, Reason: "ContainerStatusUnknown",
				Message: "The container could not be located when the pod was terminated", StartedAt: now,
				FinishedAt: now}, stopped
		}
		if st.Status.State == runtimeapi.ContainerState_CONTAINER_EXITED {
			return termination(c.settled(ctx, id, st.Status)), stopped
		}
	}
}

// oomSettle bounds the wait for an OOM kill to show in the status of a
// container killed by SIGKILL.
const oomSettle = 2 * time.Second

// settled returns the status of an exited container once the runtime has
// had its say on why: a container killed by SIGKILL (exit code 137) may be
// reported "Error" before the runtime handles the cgroup's OOM event that
// turns it into "OOMKilled" (containerd handles the two events
// independently), so such a status is read again for a moment.
func (c *Container) settled(ctx context.Context, id string, st *runtimeapi.ContainerStatus) *runtimeapi.ContainerStatus {
	if st.ExitCode != 137 || st.Reason == "OOMKilled" {
		return st
	}
	deadline := time.Now().Add(oomSettle)
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return st
		case <-t.C:
		}
		again, err := c.r.rs.ContainerStatus(ctx, id, false)
		if err != nil {
			return st
		}
		if again.Status.Reason == "OOMKilled" {
			return again.Status
		}
	}
	return st
}

// termination is how an exited container's run ended.
func termination(st *runtimeapi.ContainerStatus) *runtime.Termination {
	t := &runtime.Termination{ExitCode: int(st.ExitCode), Reason: st.Reason, Message: st.Message,
		StartedAt: time.Unix(0, st.StartedAt), FinishedAt: time.Unix(0, st.FinishedAt)}
	if t.Reason == "" {
		t.Reason = "Error"
		if t.ExitCode == 0 {
			t.Reason = "Completed"
		}
	}
	return t
}

// imageRef is how kubelet names an image in imageID: its repo digest when
// it has one, else its ID.
func imageRef(img *runtimeapi.Image) string {
	if len(img.RepoDigests) > 0 {
		return img.RepoDigests[0]
	}
	return img.Id
}

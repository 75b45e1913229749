package runtime

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// RestartPolicy mirrors the pod's restartPolicy.
type RestartPolicy string

// Restart policies.
const (
	RestartAlways    RestartPolicy = "Always"
	RestartOnFailure RestartPolicy = "OnFailure"
	RestartNever     RestartPolicy = "Never"
)

// ContainerSpec describes one container process and its sandbox.
type ContainerSpec struct {
	Name string
	// Argv is the program and its arguments; a bare program name is looked
	// up in the PATH of Env.
	Argv []string
	// Env holds NAME=value entries.
	Env []string
	// Dir is the working directory; empty keeps the agent's.
	Dir string
	// NetnsPath, Hostname, ResolvConf and Hosts describe the pod sandbox.
	NetnsPath, Hostname, ResolvConf, Hosts string
	// Mounts are the container's volume mounts.
	Mounts []Mount
	// LogPath receives stdout and stderr; the previous run's log is kept at
	// LogPath + ".previous".
	LogPath       string
	RestartPolicy RestartPolicy
}

// Phase is the coarse state of a container.
type Phase string

// Container phases, as in ContainerState.
const (
	Waiting    Phase = "Waiting"
	Running    Phase = "Running"
	Terminated Phase = "Terminated"
)

// Termination records how a run ended.
type Termination struct {
	ExitCode   int
	Reason     string
	Message    string
	StartedAt  time.Time
	FinishedAt time.Time
}

// State is a snapshot of a container.
type State struct {
	Phase Phase
	// Reason of a Waiting state (ContainerCreating, CrashLoopBackOff,
	// RunContainerError).
	Reason       string
	Message      string
	Pid          int
	StartedAt    time.Time
	Terminated   *Termination
	Last         *Termination
	RestartCount int
}

// Container supervises the runs of one container.
type Container struct {
	r        *Runtime
	spec     ContainerSpec
	onChange func()

	mu    sync.Mutex
	state State
	pid   int

	kill chan struct{}
	stop chan time.Duration
	done chan struct{}
}

// StartContainer starts supervising spec: it runs the process, restarts it
// according to the restart policy with exponential back-off, and calls
// onChange (from its own goroutine) after every state change. The
// supervision ends when ctx ends (processes are killed), or after Stop, or
// when the policy says not to restart.
func (r *Runtime) StartContainer(ctx context.Context, spec ContainerSpec, onChange func()) *Container {
	if onChange == nil {
		onChange = func() {}
	}
	c := &Container{
		r: r, spec: spec, onChange: onChange,
		state: State{Phase: Waiting, Reason: "ContainerCreating"},
		kill:  make(chan struct{}, 1),
		stop:  make(chan time.Duration, 1),
		done:  make(chan struct{}),
	}
	go c.supervise(ctx)
	return c
}

// State returns a snapshot of the container.
func (c *Container) State() State {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.state
	return s
}

// Done is closed when supervision has ended and no process runs.
func (c *Container) Done() <-chan struct{} { return c.done }

// Kill kills the running process (as a failed liveness probe does); the
// restart policy then decides what happens.
func (c *Container) Kill() {
	select {
	case c.kill <- struct{}{}:
	default:
	}
}

// Stop terminates the container gracefully (SIGTERM, then SIGKILL after
// grace) without restarting it, and waits until it is gone or ctx ends.
func (c *Container) Stop(ctx context.Context, grace time.Duration) error {
	select {
	case c.stop <- grace:
	default:
	}
	select {
	case <-c.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *Container) set(f func(*State)) {
	c.mu.Lock()
	f(&c.state)
	c.mu.Unlock()
	c.onChange()
}

func (c *Container) supervise(ctx context.Context) {
	defer close(c.done)
	var backoff time.Duration
	for {
		term, stopped := c.runOnce(ctx)
		if stopped {
			c.set(func(s *State) {
				s.Phase, s.Terminated, s.Pid, s.Reason = Terminated, term, 0, ""
			})
			return
		}
		restart := c.spec.RestartPolicy == RestartAlways ||
			(c.spec.RestartPolicy == RestartOnFailure && term.ExitCode != 0)
		if !restart {
			c.set(func(s *State) {
				s.Phase, s.Terminated, s.Pid, s.Reason, s.Message = Terminated, term, 0, "", ""
			})
			return
		}
		if term.FinishedAt.Sub(term.StartedAt) >= backoffReset {
			backoff = 0
		}
		delay := backoff
		backoff = min(max(c.r.cfg.InitialBackoff, 2*backoff), c.r.cfg.MaxBackoff)
		c.set(func(s *State) {
			s.Phase, s.Terminated, s.Last, s.Pid = Waiting, nil, term, 0
			s.Reason, s.Message = "CrashLoopBackOff", ""
			if delay > 0 {
				s.Message = fmt.Sprintf("back-off %s restarting failed container=%s", delay, c.spec.Name)
			}
		})
		if delay > 0 {
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return
			case <-c.stop:
				t.Stop()
				c.set(func(s *State) { s.Phase, s.Terminated, s.Reason = Terminated, term, "" })
				return
			}
		}
		select {
		case <-c.stop:
			c.set(func(s *State) { s.Phase, s.Terminated, s.Reason, s.Message = Terminated, term, "", "" })
			return
		case <-ctx.Done():
			return
		default:
		}
		c.set(func(s *State) { s.RestartCount++ })
	}
}

// runOnce starts one run and waits for its end. stopped reports that the
// end was requested by Stop or ctx.
func (c *Container) runOnce(ctx context.Context) (*Termination, bool) {
	start := time.Now()
	cmd, logf, err := c.prepare()
	if err == nil {
		err = c.r.start(ctx, cmd)
		logf.Close()
	}
	if err != nil {
		if ctx.Err() != nil {
			return &Termination{ExitCode: 128, Reason: "StartError", StartedAt: start, FinishedAt: time.Now()}, true
		}
		c.r.log.Warn("Failed starting container", "container", c.spec.Name, "err", err)
		return &Termination{ExitCode: 128, Reason: "StartError", Message: err.Error(), StartedAt: start, FinishedAt: time.Now()}, false
	}
	pid := cmd.Process.Pid
	c.set(func(s *State) {
		s.Phase, s.Reason, s.Message, s.Pid, s.StartedAt, s.Terminated = Running, "", "", pid, start, nil
	})
	exited := make(chan *os.ProcessState, 1)
	go func() {
		_ = cmd.Wait()
		exited <- cmd.ProcessState
	}()
	stopped := false
	var ps *os.ProcessState
wait:
	for {
		select {
		case ps = <-exited:
			break wait
		case <-c.kill:
			_ = syscall.Kill(-pid, syscall.SIGKILL)
		case grace := <-c.stop:
			stopped = true
			ps = terminate(pid, grace, exited)
			break wait
		case <-ctx.Done():
			stopped = true
			_ = syscall.Kill(-pid, syscall.SIGKILL)
			ps = <-exited
			break wait
		}
	}
	code := exitCode(ps)
	reason := "Completed"
	if code != 0 {
		reason = "Error"
	}
	return &Termination{ExitCode: code, Reason: reason, StartedAt: start, FinishedAt: time.Now()}, stopped
}

// terminate sends SIGTERM to the process group, then SIGKILL after grace.
func terminate(pid int, grace time.Duration, exited <-chan *os.ProcessState) *os.ProcessState {
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	_ = syscall.Kill(pid, syscall.SIGTERM)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case ps := <-exited:
		return ps
	case <-t.C:
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		return <-exited
	}
}

// prepare rotates the log file and builds the command of one run.
func (c *Container) prepare() (*exec.Cmd, *os.File, error) {
	if c.spec.LogPath == "" {
		return nil, nil, errors.New("no log path")
	}
	if err := os.MkdirAll(filepath.Dir(c.spec.LogPath), 0o755); err != nil {
		return nil, nil, fmt.Errorf("creating log dir: %w", err)
	}
	if _, err := os.Stat(c.spec.LogPath); err == nil {
		if err := os.Rename(c.spec.LogPath, c.spec.LogPath+".previous"); err != nil {
			return nil, nil, fmt.Errorf("rotating log: %w", err)
		}
	}
	f, err := os.OpenFile(c.spec.LogPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, nil, fmt.Errorf("opening log: %w", err)
	}
	cmd := c.r.Command(c.spec, c.spec.Argv)
	cmd.Stdout, cmd.Stderr = f, f
	return cmd, f, nil
}

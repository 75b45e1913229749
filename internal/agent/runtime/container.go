package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
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
	// StatePath, if set, is where the container keeps its record (pid and
	// process start time, restart count, terminations). StartContainer
	// resumes from a record found there, as after an agent restart: a
	// recorded process that still runs is re-adopted (not restarted), one
	// that is gone counts as a run that ended as its exit file tells, and a
	// terminated container stays terminated. With a StatePath, the process
	// runs under a supervisor that records its exit status in
	// <container>.exit beside the record (see supervisor.go), so the end of
	// a re-adopted process is known as well as that of one started here.
	StatePath string
	// StdinPath, if set, is a FIFO that becomes the process's stdin
	// (container stdin: true); Container.Stdin writes to it. StdinOnce
	// closes it after the first attach session, as upstream.
	StdinPath string
	StdinOnce bool
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
	ctx      context.Context
	spec     ContainerSpec
	onChange func()
	// resumed is the record resumed from; adoptFD a pidfd of its live
	// process (-1: none).
	resumed *record
	adoptFD int

	mu        sync.Mutex
	state     State
	procStart uint64
	// supPid and supStart identify the supervisor of the running process
	// (0: none).
	supPid   int
	supStart uint64
	// stdinW keeps the current run's stdin open (nil: none, or closed
	// after a StdinOnce session).
	stdinW *os.File

	kill chan struct{}
	stop chan time.Duration
	done chan struct{}
}

// StartContainer starts supervising spec: it runs the process, restarts it
// according to the restart policy with exponential back-off, and calls
// onChange (from its own goroutine) after every state change. The
// supervision ends when ctx ends (processes are killed unless
// Config.KeepOnExit), or after Stop, or when the policy says not to
// restart. See ContainerSpec.StatePath for resuming after an agent restart.
func (r *Runtime) StartContainer(ctx context.Context, spec ContainerSpec, onChange func()) *Container {
	if onChange == nil {
		onChange = func() {}
	}
	c := &Container{
		r: r, spec: spec, onChange: onChange,
		state:   State{Phase: Waiting, Reason: "ContainerCreating"},
		kill:    make(chan struct{}, 1),
		stop:    make(chan time.Duration, 1),
		done:    make(chan struct{}),
		ctx:     ctx,
		adoptFD: -1,
	}
	if spec.StatePath != "" {
		rec, err := loadRecord(spec.StatePath)
		if err != nil {
			r.log.Warn("Ignored unreadable container state", "container", spec.Name, "err", err)
		}
		if rec != nil {
			c.resume(rec)
		}
	}
	r.containers.Add(1)
	go func() {
		defer r.containers.Done()
		c.supervise(ctx)
	}()
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

// openStdin makes the FIFO at path if needed and opens both ends: the read
// end for the process, the write end kept by the agent, so the process
// does not see end of file before an attach session writes.
func openStdin(path string) (r, w *os.File, err error) {
	if st, err := os.Stat(path); err != nil || st.Mode()&os.ModeNamedPipe == 0 {
		_ = os.Remove(path)
		if err := unix.Mkfifo(path, 0o600); err != nil {
			return nil, nil, fmt.Errorf("creating stdin fifo: %w", err)
		}
	}
	r, err = os.OpenFile(path, os.O_RDONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("opening stdin fifo: %w", err)
	}
	if w, err = os.OpenFile(path, os.O_WRONLY, 0); err != nil {
		r.Close()
		return nil, nil, fmt.Errorf("opening stdin fifo: %w", err)
	}
	// The process reads its stdin blocking.
	if err := unix.SetNonblock(int(r.Fd()), false); err != nil {
		r.Close()
		w.Close()
		return nil, nil, err
	}
	return r, w, nil
}

// setStdin replaces the write end of the stdin FIFO (nil closes it).
func (c *Container) setStdin(w *os.File) {
	c.mu.Lock()
	old := c.stdinW
	c.stdinW = w
	c.mu.Unlock()
	if old != nil {
		old.Close()
	}
}

// Stdin returns the write end of the running process's stdin, or nil when
// it has none (no stdin, or closed after a StdinOnce session). done must
// be called at the end of the attach session using it.
func (c *Container) Stdin() (w *os.File, done func()) {
	c.mu.Lock()
	w = c.stdinW
	c.mu.Unlock()
	return w, func() {
		if c.spec.StdinOnce && w != nil {
			c.mu.Lock()
			if c.stdinW == w {
				c.stdinW = nil
			}
			c.mu.Unlock()
			w.Close()
		}
	}
}

// resume takes over the state of rec, opening its process if it still runs,
// so that the first State already reflects it.
func (c *Container) resume(rec *record) {
	c.resumed = rec
	c.state.RestartCount, c.state.Last = rec.RestartCount, rec.Last
	switch {
	case rec.Terminated != nil:
		c.state.Phase, c.state.Reason, c.state.Terminated = Terminated, "", rec.Terminated
	case rec.Ended != nil:
		// supervise applies the restart policy to it.
	case rec.Pid != 0:
		// The supervisor's end tells that the exit status is written;
		// without one (it was killed) the process itself is watched. A
		// process that has just ended while its supervisor still writes
		// the exit file is awaited through the supervisor too.
		alive := ProcessAlive(rec.Pid, rec.ProcStart)
		fd := -1
		if rec.Supervisor != 0 {
			if fd, _ = openProcess(rec.Supervisor, rec.SupervisorStart); fd >= 0 {
				c.supPid, c.supStart = rec.Supervisor, rec.SupervisorStart
			}
		}
		if !alive && fd < 0 {
			return
		}
		if fd < 0 {
			var err error
			if fd, err = openProcess(rec.Pid, rec.ProcStart); err != nil {
				return
			}
		}
		c.adoptFD, c.procStart = fd, rec.ProcStart
		if c.spec.StdinPath != "" {
			// Succeeds only while the process still holds the read end.
			if w, err := os.OpenFile(c.spec.StdinPath, os.O_WRONLY|unix.O_NONBLOCK, 0); err == nil {
				c.stdinW = w
			}
		}
		c.state.Phase, c.state.Reason, c.state.Pid, c.state.StartedAt = Running, "", rec.Pid, rec.StartedAt
		c.r.log.Info("Re-adopted container process", "container", c.spec.Name, "pid", rec.Pid)
	}
}

func (c *Container) set(f func(*State)) {
	c.mu.Lock()
	f(&c.state)
	rec := c.record()
	c.mu.Unlock()
	// Once ctx has ended the agent is going away: the record keeps
	// describing the process it leaves behind (or lost); one it killed
	// is recorded by saveEnded.
	if c.spec.StatePath != "" && c.ctx.Err() == nil {
		if err := rec.save(c.spec.StatePath); err != nil {
			c.r.log.Warn("Failed saving container state", "container", c.spec.Name, "err", err)
		}
	}
	c.onChange()
}

// record returns what is persisted of the state; c.mu is held.
func (c *Container) record() *record {
	s := c.state
	r := &record{Pid: s.Pid, StartedAt: s.StartedAt, RestartCount: s.RestartCount, Last: s.Last}
	if s.Pid != 0 {
		r.ProcStart, r.Supervisor, r.SupervisorStart = c.procStart, c.supPid, c.supStart
	}
	if s.Phase == Terminated {
		r.Terminated = s.Terminated
	}
	return r
}

// runEnd tells how a run ended.
type runEnd int

const (
	// exited: the process ended by itself (or by Kill).
	exited runEnd = iota
	// stopped: Stop ended it.
	stopped
	// killed: ctx ended without KeepOnExit; the agent killed it as it
	// stops.
	killed
	// abandoned: ctx ended with KeepOnExit; the process runs on.
	abandoned
)

// unknownExit is reported for a run whose exit status could not be read:
// its supervisor was killed before it could write it, or it had none (a
// process started by an agent that predates supervisors). As kubelet's
// ContainerStatusUnknown it counts as a failure.
func unknownExit(startedAt time.Time, msg string) *Termination {
	return &Termination{ExitCode: 137, Reason: "ContainerStatusUnknown", Message: msg, StartedAt: startedAt,
		FinishedAt: time.Now()}
}

func (c *Container) supervise(ctx context.Context) {
	defer close(c.done)
	var backoff time.Duration
	resume := c.resumed
	for {
		var term *Termination
		var end runEnd
		switch {
		case resume != nil && resume.Terminated != nil:
			t := resume.Terminated
			c.set(func(s *State) { s.Phase, s.Terminated, s.Pid, s.Reason = Terminated, t, 0, "" })
			return
		case resume != nil && resume.Ended != nil:
			term, end = resume.Ended, exited
		case resume != nil && resume.Pid != 0:
			term, end = c.runAdopted(ctx, resume)
		default:
			term, end = c.runOnce(ctx)
		}
		resume = nil
		c.setStdin(nil)
		if end == abandoned {
			return
		}
		if end == stopped || end == killed {
			c.set(func(s *State) {
				s.Phase, s.Terminated, s.Pid, s.Reason = Terminated, term, 0, ""
			})
			if end == killed {
				c.saveEnded(term)
			}
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

// saveEnded records term, the end of a run that the agent killed as it
// stops, as not yet acted on: the next agent applies the restart policy to
// it (with term as the last state), as kubelet does to the containers a
// node's reboot ended, instead of finding a process gone without a trace.
func (c *Container) saveEnded(term *Termination) {
	if c.spec.StatePath == "" || term == nil {
		return
	}
	c.mu.Lock()
	rec := &record{RestartCount: c.state.RestartCount, Last: c.state.Last, Ended: term}
	c.mu.Unlock()
	if err := rec.save(c.spec.StatePath); err != nil {
		c.r.log.Warn("Failed saving container state", "container", c.spec.Name, "err", err)
	}
}

// runOnce starts one run and waits for its end.
func (c *Container) runOnce(ctx context.Context) (*Termination, runEnd) {
	start := time.Now()
	startErr := func(err error) (*Termination, runEnd) {
		if ctx.Err() != nil {
			return &Termination{ExitCode: 128, Reason: "StartError", StartedAt: start, FinishedAt: time.Now()}, stopped
		}
		c.r.log.Warn("Failed starting container", "container", c.spec.Name, "err", err)
		return &Termination{ExitCode: 128, Reason: "StartError", Message: err.Error(), StartedAt: start, FinishedAt: time.Now()}, exited
	}
	cmd, report, started, err := c.prepare()
	if err == nil {
		err = c.r.start(ctx, cmd)
		started.Close()
	}
	if err != nil {
		if report != nil {
			report.Close()
		}
		return startErr(err)
	}
	// The start time survives the helper's exec: it identifies the
	// container process for a later agent.
	pid, procStart, supPid, supStart := cmd.Process.Pid, uint64(0), 0, uint64(0)
	if report != nil {
		rep, err := readReport(report)
		report.Close()
		if err != nil {
			_ = cmd.Wait()
			return startErr(err)
		}
		pid, procStart = rep.Pid, rep.ProcStart
		supPid = cmd.Process.Pid
		supStart, _ = procStartTime(supPid)
	} else {
		procStart, _ = procStartTime(pid)
	}
	c.mu.Lock()
	c.procStart, c.supPid, c.supStart = procStart, supPid, supStart
	c.mu.Unlock()
	c.set(func(s *State) {
		s.Phase, s.Reason, s.Message, s.Pid, s.StartedAt, s.Terminated = Running, "", "", pid, start, nil
	})
	done := make(chan struct{})
	var ps *os.ProcessState
	go func() {
		_ = cmd.Wait()
		ps = cmd.ProcessState
		close(done)
	}()
	if report != nil {
		return c.await(ctx, pid, procStart, start, done)
	}
	end, _ := c.wait(ctx, pid, done)
	if end == abandoned {
		return nil, end
	}
	code := exitCode(ps)
	reason := "Completed"
	if code != 0 {
		reason = "Error"
	}
	return &Termination{ExitCode: code, Reason: reason, StartedAt: start, FinishedAt: time.Now()}, end
}

// runAdopted supervises the process of rec, left running by an earlier
// agent and opened by resume, through the pidfd of its supervisor (or of
// the process itself, if that is gone). A process that was gone ends the
// run at once, as its exit file tells.
func (c *Container) runAdopted(ctx context.Context, rec *record) (*Termination, runEnd) {
	if c.adoptFD < 0 {
		if t := readExit(c.spec.StatePath, rec.Pid, rec.ProcStart, rec.StartedAt); t != nil {
			return t, exited
		}
		return unknownExit(rec.StartedAt, "The container exited while no agent supervised it; its exit status was not recorded"), exited
	}
	quit := make(chan struct{})
	defer close(quit)
	return c.await(ctx, rec.Pid, rec.ProcStart, rec.StartedAt, watchPidfd(c.adoptFD, quit))
}

// await waits for the end of the container process pid (started at
// procStart), signalled by done: the end of its supervisor, or, without
// one, of the process itself. It returns the exit status that the
// supervisor wrote. Without one (the supervisor was killed, or there was
// none) the process may still run, nobody's child now: it is then watched
// through its own pidfd, and its exit status is unknown.
func (c *Container) await(ctx context.Context, pid int, procStart uint64, startedAt time.Time, done <-chan struct{}) (*Termination, runEnd) {
	end, sig := c.wait(ctx, pid, done)
	if end == abandoned {
		return nil, end
	}
	if t := readExit(c.spec.StatePath, pid, procStart, startedAt); t != nil {
		return t, end
	}
	if fd, err := openProcess(pid, procStart); err == nil {
		c.r.log.Warn("Lost the supervisor of a container process", "container", c.spec.Name, "pid", pid)
		c.mu.Lock()
		c.supPid, c.supStart = 0, 0
		c.mu.Unlock()
		if end == exited {
			c.set(func(*State) {}) // the record loses the supervisor
		}
		quit := make(chan struct{})
		defer close(quit)
		gone := watchPidfd(fd, quit)
		if end == exited {
			var s syscall.Signal
			if end, s = c.wait(ctx, pid, gone); end == abandoned {
				return nil, end
			}
			if s != 0 {
				sig = s
			}
		} else {
			// Stopping, and the wait for it is over: kill what is left.
			_ = syscall.Kill(-pid, syscall.SIGKILL)
			<-gone
			sig = syscall.SIGKILL
		}
	}
	if sig != 0 {
		return &Termination{ExitCode: 128 + int(sig), Reason: "Error", StartedAt: startedAt, FinishedAt: time.Now()}, end
	}
	return unknownExit(startedAt, "The exit status of the container process was not recorded"), end
}

// wait waits until the process pid (and its group) has ended, by itself
// (done closes), through Kill, Stop or the end of ctx. sig is the last
// signal the agent sent it, if any.
func (c *Container) wait(ctx context.Context, pid int, done <-chan struct{}) (end runEnd, sig syscall.Signal) {
	for {
		select {
		case <-done:
			return exited, sig
		case <-c.kill:
			sig = syscall.SIGKILL
			_ = syscall.Kill(-pid, syscall.SIGKILL)
		case grace := <-c.stop:
			return stopped, terminate(pid, grace, done)
		case <-ctx.Done():
			if c.r.cfg.KeepOnExit {
				return abandoned, 0
			}
			_ = syscall.Kill(-pid, syscall.SIGKILL)
			<-done
			return killed, syscall.SIGKILL
		}
	}
}

// terminate sends SIGTERM to the process group, then SIGKILL after grace,
// and returns the last signal sent once done closes.
func terminate(pid int, grace time.Duration, done <-chan struct{}) syscall.Signal {
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	_ = syscall.Kill(pid, syscall.SIGTERM)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-done:
		return syscall.SIGTERM
	case <-t.C:
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		<-done
		return syscall.SIGKILL
	}
}

// closeAll closes files.
type closeAll []*os.File

func (c closeAll) Close() error {
	var errs []error
	for _, f := range c {
		errs = append(errs, f.Close())
	}
	return errors.Join(errs...)
}

// prepare rotates the log file and builds the command of one run: the
// helper, under a supervisor if the container has a record; then report is
// the read end of the supervisor's report pipe. started is to be closed
// once the command has started.
func (c *Container) prepare() (cmd *exec.Cmd, report *os.File, started io.Closer, err error) {
	if c.spec.LogPath == "" {
		return nil, nil, nil, errors.New("no log path")
	}
	if err := os.MkdirAll(filepath.Dir(c.spec.LogPath), 0o755); err != nil {
		return nil, nil, nil, fmt.Errorf("creating log dir: %w", err)
	}
	if _, err := os.Stat(c.spec.LogPath); err == nil {
		if err := os.Rename(c.spec.LogPath, c.spec.LogPath+".previous"); err != nil {
			return nil, nil, nil, fmt.Errorf("rotating log: %w", err)
		}
	}
	logf, err := os.OpenFile(c.spec.LogPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("opening log: %w", err)
	}
	closers := closeAll{logf}
	cmd = c.r.Command(c.spec, c.spec.Argv)
	// A container outlives the agent's process (a crash, an upgrade): the
	// next agent re-adopts it, or kills it if its pod is gone.
	cmd.SysProcAttr.Pdeathsig = 0
	if c.spec.StatePath != "" {
		r, w, err := os.Pipe()
		if err != nil {
			closers.Close()
			return nil, nil, nil, fmt.Errorf("creating report pipe: %w", err)
		}
		cmd = c.r.supervisorCommand(cmd, exitPath(c.spec.StatePath))
		cmd.ExtraFiles = []*os.File{w}
		report = r
		closers = append(closers, w)
	}
	if c.spec.StdinPath != "" {
		r, w, err := openStdin(c.spec.StdinPath)
		if err != nil {
			closers.Close()
			if report != nil {
				report.Close()
			}
			return nil, nil, nil, err
		}
		cmd.Stdin = r
		// The child gets its own copy of the read end: ours is closed
		// with the log file once it has started.
		closers = append(closers, r)
		c.setStdin(w)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	return cmd, report, closers, nil
}

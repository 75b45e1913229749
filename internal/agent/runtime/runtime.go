package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	goruntime "runtime"
	"sync"
	"syscall"
	"time"
)

// Defaults of Config, matching kubelet's container restart back-off.
const (
	DefaultInitialBackoff = 10 * time.Second
	DefaultMaxBackoff     = 5 * time.Minute
	// backoffReset is how long a container must run for its back-off to
	// start over.
	backoffReset = 10 * time.Minute
)

// ErrNotRunning is returned when a process is requested while Run is not
// active.
var ErrNotRunning = errors.New("runtime is not running")

// Config configures a Runtime.
type Config struct {
	// HelperPath is the binary providing the helper; default: this
	// executable.
	HelperPath string
	// HelperPrefix are the arguments selecting the helper; default
	// [HelperCommand].
	HelperPrefix []string
	// NewPIDNamespace runs each container as PID 1 of its own PID namespace
	// with a fresh /proc. Such a process ignores SIGTERM unless it handles
	// it, as in a container.
	NewPIDNamespace bool
	// InitialBackoff and MaxBackoff bound the restart delay; defaults 10s
	// and 5m.
	InitialBackoff, MaxBackoff time.Duration
	// KeepOnExit leaves container processes running when the context of
	// their supervision ends (the agent stopping), for the next agent to
	// re-adopt; otherwise they are killed then, and their records keep
	// how the runs ended for the next agent's restart policy. Either way
	// they outlive a crash of the agent's process: they (and their
	// supervisors) get no parent-death signal.
	KeepOnExit bool
	Logger     *slog.Logger
}

// Runtime starts and supervises container processes.
type Runtime struct {
	cfg  Config
	log  *slog.Logger
	reqs chan spawnRequest
	// containers counts the supervising goroutines of started containers.
	containers sync.WaitGroup
}

type spawnRequest struct {
	cmd   *exec.Cmd
	reply chan error
}

// New returns a Runtime; processes can be started while Run is running.
func New(cfg Config) (*Runtime, error) {
	if cfg.HelperPath == "" {
		p, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("finding own executable: %w", err)
		}
		cfg.HelperPath = p
	}
	if cfg.HelperPrefix == nil {
		cfg.HelperPrefix = []string{HelperCommand}
	}
	if cfg.InitialBackoff <= 0 {
		cfg.InitialBackoff = DefaultInitialBackoff
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = DefaultMaxBackoff
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Runtime{cfg: cfg, log: cfg.Logger, reqs: make(chan spawnRequest)}, nil
}

// Run forks every process from one locked OS thread until ctx ends. Exec
// processes get SIGKILL as parent-death signal, which fires when that
// thread exits (Run returns, or the agent dies); container processes do
// not (see KeepOnExit).
func (r *Runtime) Run(ctx context.Context) error {
	goruntime.LockOSThread()
	// No UnlockOSThread: the thread exits with this goroutine.
	for {
		select {
		case <-ctx.Done():
			return nil
		case req := <-r.reqs:
			req.reply <- req.cmd.Start()
		}
	}
}

// WaitContainers waits until every container started on r has ended its
// supervision, which happens once the context it was started with ends:
// a container is then killed and recorded as ended, unless KeepOnExit.
// An agent stopping calls it so that it exits only after its containers.
func (r *Runtime) WaitContainers() {
	r.containers.Wait()
}

func (r *Runtime) start(ctx context.Context, cmd *exec.Cmd) error {
	req := spawnRequest{cmd: cmd, reply: make(chan error, 1)}
	select {
	case r.reqs <- req:
		return <-req.reply
	case <-ctx.Done():
		return ErrNotRunning
	}
}

// Command returns the helper command running argv in the sandbox described
// by spec; the caller sets its I/O. Exec probes use it too.
func (r *Runtime) Command(spec ContainerSpec, argv []string) *exec.Cmd {
	args := append([]string{r.cfg.HelperPath}, r.cfg.HelperPrefix...)
	args = append(args, mountArgs(spec.Mounts)...)
	args = append(args, HelperArgs(spec.NetnsPath, spec.Hostname, spec.ResolvConf, spec.Hosts, r.cfg.NewPIDNamespace, argv)...)
	flags := uintptr(syscall.CLONE_NEWNS | syscall.CLONE_NEWUTS)
	if r.cfg.NewPIDNamespace {
		flags |= syscall.CLONE_NEWPID
	}
	env := spec.Env
	if !hasVar(env, "PATH") {
		env = append(append([]string(nil), env...), "PATH="+defaultPath)
	}
	if !hasVar(env, "HOSTNAME") && spec.Hostname != "" {
		env = append(env, "HOSTNAME="+spec.Hostname)
	}
	return &exec.Cmd{
		Path: r.cfg.HelperPath,
		Args: args,
		Env:  env,
		Dir:  spec.Dir,
		SysProcAttr: &syscall.SysProcAttr{
			Cloneflags: flags,
			Setpgid:    true,
			Pdeathsig:  syscall.SIGKILL,
		},
	}
}

// Exec runs argv in the sandbox of spec to completion or until ctx ends,
// returning its combined output and exit code.
func (r *Runtime) Exec(ctx context.Context, spec ContainerSpec, argv []string) ([]byte, int, error) {
	cmd := r.Command(spec, argv)
	var out limitedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := r.start(ctx, cmd); err != nil {
		return nil, -1, err
	}
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		case <-done:
		}
	}()
	err := cmd.Wait()
	close(done)
	if ctx.Err() != nil {
		return out.Bytes(), -1, ctx.Err()
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return out.Bytes(), exitCode(ee.ProcessState), nil
	}
	return out.Bytes(), 0, err
}

func hasVar(env []string, name string) bool {
	for _, e := range env {
		if len(e) > len(name) && e[:len(name)+1] == name+"=" {
			return true
		}
	}
	return false
}

// exitCode returns the exit status, or 128+signal for a killed process, as
// container runtimes report it.
func exitCode(ps *os.ProcessState) int {
	ws, ok := ps.Sys().(syscall.WaitStatus)
	if ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}

// limitedBuffer keeps the first 10 KiB written, like kubelet's probe output.
type limitedBuffer struct{ b []byte }

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := 10240 - len(l.b); room > 0 {
		if len(p) < room {
			room = len(p)
		}
		l.b = append(l.b, p[:room]...)
	}
	return len(p), nil
}

func (l *limitedBuffer) Bytes() []byte { return l.b }

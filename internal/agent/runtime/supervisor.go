package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// A container process with a record (ContainerSpec.StatePath) is not the
// agent's child but the child of a small supervising parent: the helper
// binary run with --exit-file. The supervisor starts the helper in the
// container's namespaces, reports the helper's pid (the container's pid,
// which the helper's exec keeps) on a pipe, waits for it and writes its exit
// status atomically to the exit file before it exits itself. It outlives the
// agent, so an agent that re-adopts the container learns the real exit
// status: it watches the supervisor's pidfd and reads the file once the
// supervisor is gone. The supervisor is in a process group of its own,
// outside the container's, and ignores the signals of a terminal or a
// service manager stopping the agent; only SIGKILL ends it early, and then
// the exit status is unknown again.

// exitStatus is the content of an exit file.
type exitStatus struct {
	// Pid and ProcStart identify the process that ended, as in record.
	Pid       int    `json:"pid"`
	ProcStart uint64 `json:"procStart"`
	// ExitCode is the code the process exited with, or 128+Signal when a
	// signal killed it.
	ExitCode   int       `json:"exitCode"`
	Signal     int       `json:"signal,omitempty"`
	FinishedAt time.Time `json:"finishedAt"`
}

// startReport is what the supervisor writes on its report pipe once the
// container process has started, or failed to.
type startReport struct {
	Pid       int    `json:"pid,omitempty"`
	ProcStart uint64 `json:"procStart,omitempty"`
	Error     string `json:"error,omitempty"`
}

// supervisorReportFD is the descriptor of the report pipe in the supervisor.
const supervisorReportFD = 3

// exitPath is where the supervisor of the container recorded at statePath
// writes the exit status: <container>.exit beside <container>.json.
func exitPath(statePath string) string {
	return strings.TrimSuffix(statePath, ".json") + ".exit"
}

// supervisorCommand returns the command running cmd (a helper command from
// Command) under a supervisor that writes its exit status to exitFile. The
// caller sets its I/O and gives it the write end of the report pipe as its
// only extra file.
func (r *Runtime) supervisorCommand(cmd *exec.Cmd, exitFile string) *exec.Cmd {
	args := append([]string{r.cfg.HelperPath}, r.cfg.HelperPrefix...)
	args = append(args, "--exit-file", exitFile,
		"--cloneflags", strconv.FormatUint(uint64(cmd.SysProcAttr.Cloneflags), 10),
		"--report-fd", strconv.Itoa(supervisorReportFD), "--")
	args = append(args, cmd.Args...)
	return &exec.Cmd{
		Path: r.cfg.HelperPath,
		Args: args,
		Env:  cmd.Env,
		Dir:  cmd.Dir,
		// No parent-death signal: the supervisor outlives the agent.
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true},
	}
}

// supervise is the body of the helper run with --exit-file: it runs
// o.argv (a helper command line) in new namespaces (o.cloneFlags), reports
// its pid, waits for it, writes its exit status to o.exitFile and exits
// with status 0. It returns only on error.
func supervise(o helperOptions) error {
	// Signals meant for the agent (a terminal's SIGINT or SIGHUP, a
	// service manager's SIGTERM) must not end the supervisor before the
	// container. Caught rather than ignored: ignored signals would stay
	// ignored in the container.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, unix.SIGINT, unix.SIGTERM, unix.SIGHUP, unix.SIGQUIT)
	go func() {
		for range sigs {
		}
	}()
	var report *os.File
	if o.reportFD > 0 {
		// Inherited without close-on-exec: the container must not inherit
		// it in turn.
		unix.CloseOnExec(o.reportFD)
		report = os.NewFile(uintptr(o.reportFD), "report")
	}
	send := func(r startReport) {
		if report == nil {
			return
		}
		b, _ := json.Marshal(r)
		_, _ = report.Write(append(b, '\n'))
		report.Close()
	}
	cmd := &exec.Cmd{
		Path: o.argv[0], Args: o.argv, Env: os.Environ(),
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
		SysProcAttr: &syscall.SysProcAttr{Cloneflags: uintptr(o.cloneFlags), Setpgid: true},
	}
	if err := cmd.Start(); err != nil {
		send(startReport{Error: err.Error()})
		return fmt.Errorf("starting container: %w", err)
	}
	pid := cmd.Process.Pid
	// Not reaped yet, the child's stat is readable even if it has exited.
	_, procStart, err := procStat(pid)
	if err != nil {
		procStart = 0
	}
	send(startReport{Pid: pid, ProcStart: procStart})
	// Only the container holds its stdin: an agent sees whether it still
	// reads a FIFO by opening the FIFO's write end.
	if null, err := unix.Open(os.DevNull, unix.O_RDWR|unix.O_CLOEXEC, 0); err == nil {
		_ = unix.Dup3(null, 0, 0)
		unix.Close(null)
	}
	// The container is not reaped: as a zombie it keeps its pid and process
	// group, so an agent signalling them until this supervisor ends cannot
	// reach another process that reused the pid; it is reaped once the
	// supervisor is gone.
	code, sig, err := waitNoReap(pid)
	if err != nil {
		return fmt.Errorf("waiting for container: %w", err)
	}
	st := exitStatus{Pid: pid, ProcStart: procStart, ExitCode: code, Signal: sig, FinishedAt: time.Now()}
	if err := st.save(o.exitFile); err != nil {
		return err
	}
	// Its end tells a re-adopting agent that the exit file is written:
	// exit at once, without exit hooks (a race-enabled build would sleep
	// a second in them).
	unix.Exit(0)
	return nil
}

// si_code values of SIGCHLD (<asm-generic/siginfo.h>).
const (
	cldExited = 1
	cldKilled = 2
	cldDumped = 3
)

// sigchldInfo is the siginfo_t of a child's state change on 64-bit Linux.
type sigchldInfo struct {
	Signo, Errno, Code, _ int32
	Pid                   int32
	UID                   uint32
	Status                int32
	_                     [100]byte
}

// waitNoReap waits for child pid to end, leaving it a zombie (WNOWAIT), and
// returns its exit code (128+signal when a signal killed it) and signal.
func waitNoReap(pid int) (code, sig int, err error) {
	var info sigchldInfo
	for {
		_, _, errno := unix.Syscall6(unix.SYS_WAITID, unix.P_PID, uintptr(pid), uintptr(unsafe.Pointer(&info)),
			unix.WEXITED|unix.WNOWAIT, 0, 0)
		if errno == unix.EINTR {
			continue
		}
		if errno != 0 {
			return 0, 0, errno
		}
		break
	}
	switch info.Code {
	case cldExited:
		return int(info.Status), 0, nil
	case cldKilled, cldDumped:
		return 128 + int(info.Status), int(info.Status), nil
	}
	return 0, 0, fmt.Errorf("unexpected child state change %d", info.Code)
}

// save writes e to path atomically (write and rename); the directory must
// exist (a pod removed meanwhile gets no file).
func (e *exitStatus) save(path string) error {
	if err := saveJSON(path, e); err != nil {
		return fmt.Errorf("writing exit status: %w", err)
	}
	return nil
}

// readExit returns how the process pid, started at procStart, ended as its
// supervisor recorded it in the exit file of the container recorded at
// statePath, or nil if the file does not describe that process.
func readExit(statePath string, pid int, procStart uint64, startedAt time.Time) *Termination {
	b, err := os.ReadFile(exitPath(statePath))
	if err != nil {
		return nil
	}
	var e exitStatus
	if json.Unmarshal(b, &e) != nil || e.Pid != pid || e.ProcStart != procStart {
		return nil
	}
	reason := "Completed"
	if e.ExitCode != 0 {
		reason = "Error"
	}
	return &Termination{ExitCode: e.ExitCode, Reason: reason, StartedAt: startedAt, FinishedAt: e.FinishedAt}
}

// readReport reads the supervisor's start report from r.
func readReport(r *os.File) (startReport, error) {
	var rep startReport
	if err := json.NewDecoder(r).Decode(&rep); err != nil {
		return rep, fmt.Errorf("reading the supervisor's report: %w", err)
	}
	if rep.Error != "" {
		return rep, errors.New(rep.Error)
	}
	if rep.Pid <= 0 {
		return rep, errors.New("the supervisor reported no pid")
	}
	return rep, nil
}

package runtime

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// record is what a Container keeps on disk at ContainerSpec.StatePath, so a
// restarted agent can take over where the previous one left off.
type record struct {
	// Pid and ProcStart identify the running process; ProcStart (the
	// process's start time in clock ticks since boot, from /proc/<pid>/stat)
	// guards against the pid having been reused. Pid 0: no process runs.
	Pid       int       `json:"pid,omitempty"`
	ProcStart uint64    `json:"procStart,omitempty"`
	StartedAt time.Time `json:"startedAt,omitzero"`
	// Supervisor and SupervisorStart identify the supervising parent of
	// the running process (see supervisor.go); 0 for a process without
	// one.
	Supervisor      int    `json:"supervisor,omitempty"`
	SupervisorStart uint64 `json:"supervisorStart,omitempty"`
	// RestartCount and Last carry the container's history.
	RestartCount int          `json:"restartCount"`
	Last         *Termination `json:"last,omitempty"`
	// Ended is how the last run ended when the agent killed its process as
	// it stopped: the restart policy has not acted on it yet, the next
	// agent does.
	Ended *Termination `json:"ended,omitempty"`
	// Terminated is set once supervision has ended for good.
	Terminated *Termination `json:"terminated,omitempty"`
}

// loadRecord reads the record at path; a missing file gives nil.
func loadRecord(path string) (*record, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading container state: %w", err)
	}
	var r record
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("decoding container state %s: %w", path, err)
	}
	return &r, nil
}

// save writes r to path atomically (write and rename).
func (r *record) save(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("creating state dir: %w", err)
	}
	if err := saveJSON(path, r); err != nil {
		return fmt.Errorf("writing container state: %w", err)
	}
	return nil
}

// saveJSON writes v as JSON to path atomically (write and rename); the
// directory must exist.
func saveJSON(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// procStartTime returns the start time of live process pid in clock ticks
// since boot (field 22 of /proc/<pid>/stat); a zombie counts as gone.
func procStartTime(pid int) (uint64, error) {
	state, start, err := procStat(pid)
	if err != nil {
		return 0, err
	}
	if state == "Z" || state == "X" {
		return 0, fmt.Errorf("process %d has exited", pid)
	}
	return start, nil
}

// procStat returns the state (field 3 of /proc/<pid>/stat) and the start
// time (field 22) of process pid, a zombie included.
func procStat(pid int) (state string, start uint64, err error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return "", 0, err
	}
	// The command name (field 2) may hold spaces and parentheses: the
	// fields after it start past the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return "", 0, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	f := bytes.Fields(b[i+1:])
	// f[0] is field 3 (state), so field 22 is f[19].
	if len(f) < 20 {
		return "", 0, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	start, err = strconv.ParseUint(string(f[19]), 10, 64)
	return string(f[0]), start, err
}

// ProcessAlive reports whether pid still runs the process that started at
// procStart (as recorded), not a later one that reuses its pid.
func ProcessAlive(pid int, procStart uint64) bool {
	if pid <= 0 {
		return false
	}
	st, err := procStartTime(pid)
	return err == nil && st == procStart
}

// openProcess returns a pidfd for the process pid started at procStart, or
// an error if that process is gone. The identity is checked again after
// opening, so the pidfd cannot refer to a process that reused the pid.
func openProcess(pid int, procStart uint64) (int, error) {
	if !ProcessAlive(pid, procStart) {
		return -1, fmt.Errorf("process %d is gone", pid)
	}
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return -1, fmt.Errorf("opening pidfd of %d: %w", pid, err)
	}
	if !ProcessAlive(pid, procStart) {
		unix.Close(fd)
		return -1, fmt.Errorf("process %d is gone", pid)
	}
	return fd, nil
}

// pidfdPollInterval bounds how long a watcher of a re-adopted process takes
// to notice that nobody waits for it any more.
const pidfdPollInterval = time.Second

// watchPidfd closes the returned channel when the process behind fd exits,
// or when quit is closed; it closes fd. The exit status of a process that
// is not our child cannot be read: a container's comes from the exit file
// its supervisor writes before it exits.
func watchPidfd(fd int, quit <-chan struct{}) <-chan struct{} {
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		defer unix.Close(fd)
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		for {
			n, err := unix.Poll(fds, int(pidfdPollInterval/time.Millisecond))
			if n > 0 || (err != nil && !errors.Is(err, unix.EINTR)) {
				return
			}
			select {
			case <-quit:
				return
			default:
			}
		}
	}()
	return exited
}

// KillRecorded kills the process group of the container recorded at
// statePath if its process still runs, and waits up to timeout for it (and
// its supervisor, which then writes its exit status) to exit. It is for
// cleaning up after pods that were deleted while no agent ran; a missing
// record or process is not an error.
func KillRecorded(statePath string, timeout time.Duration) (killed bool, err error) {
	rec, err := loadRecord(statePath)
	if err != nil || rec == nil || rec.Pid == 0 {
		return false, err
	}
	quit := make(chan struct{})
	defer close(quit)
	var gone []<-chan struct{}
	if rec.Supervisor != 0 {
		if fd, err := openProcess(rec.Supervisor, rec.SupervisorStart); err == nil {
			gone = append(gone, watchPidfd(fd, quit))
		}
	}
	if fd, err := openProcess(rec.Pid, rec.ProcStart); err == nil {
		// The pidfd pins the identity: signalling through it cannot hit a
		// process that reused the pid. The leader being alive, its group
		// id is still its own; the group may hold more processes.
		_ = unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0)
		_ = unix.Kill(-rec.Pid, unix.SIGKILL)
		killed = true
		gone = append(gone, watchPidfd(fd, quit))
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	for _, ch := range gone {
		select {
		case <-ch:
		case <-t.C:
			return killed, fmt.Errorf("process %d did not exit within %s", rec.Pid, timeout)
		}
	}
	return killed, nil
}

// LivePid returns the pid of the container recorded at statePath if that
// process still runs, else 0.
func LivePid(statePath string) int {
	rec, err := loadRecord(statePath)
	if err != nil || rec == nil || !ProcessAlive(rec.Pid, rec.ProcStart) {
		return 0
	}
	return rec.Pid
}

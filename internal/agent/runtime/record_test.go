package runtime

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// startRuntime runs a Runtime until the returned stop is called.
func startRuntime(t *testing.T, keep bool) (*Runtime, context.Context, func()) {
	t.Helper()
	r, err := New(Config{NewPIDNamespace: true, KeepOnExit: keep, InitialBackoff: 50 * time.Millisecond,
		MaxBackoff: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = r.Run(ctx); close(done) }()
	stop := func() { cancel(); <-done }
	t.Cleanup(stop)
	return r, ctx, stop
}

// TestContainerResume stops a supervising runtime with KeepOnExit, as an
// agent restart does, and checks that the next one re-adopts the running
// process with its pid and restart count, supervises it (a kill restarts
// it) and that a process gone meanwhile counts as a run of unknown exit.
func TestContainerResume(t *testing.T) {
	requireRoot(t)
	spec := recordedSleeper(t)

	r1, ctx1, stop1 := startRuntime(t, true)
	c1 := r1.StartContainer(ctx1, spec, nil)
	waitFor(t, "running", func() bool { return c1.State().Phase == Running })
	c1.Kill()
	waitFor(t, "restart after kill", func() bool { st := c1.State(); return st.RestartCount == 1 && st.Phase == Running })
	pid := c1.State().Pid
	stop1()
	<-c1.Done()
	rec, err := loadRecord(spec.StatePath)
	if err != nil || rec == nil || !ProcessAlive(rec.Pid, rec.ProcStart) || rec.Pid != pid {
		t.Fatalf("after the runtime stopped: record %+v (err %v), want live pid %d", rec, err, pid)
	}

	r2, ctx2, _ := startRuntime(t, false)
	c2 := r2.StartContainer(ctx2, spec, nil)
	waitFor(t, "re-adopted", func() bool { return c2.State().Phase == Running })
	if st := c2.State(); st.Pid != pid || st.RestartCount != 1 || st.Last == nil || st.Last.ExitCode != 137 {
		t.Fatalf("re-adopted state got %+v, want pid %d, restart count 1 and the last exit 137", st, pid)
	}
	// The adopted process is not our child: its end is seen through its
	// supervisor's pidfd, its exit status in the supervisor's exit file.
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "restart of the adopted process", func() bool {
		st := c2.State()
		return st.RestartCount == 2 && st.Phase == Running && st.Pid != pid
	})
	if last := c2.State().Last; last.Reason != "Error" || last.ExitCode != 137 {
		t.Errorf("last termination got %+v, want Error 137", last)
	}
	if err := c2.Stop(ctx2, 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	rec, _ = loadRecord(spec.StatePath)
	if rec == nil || rec.Terminated == nil {
		t.Fatalf("record after Stop got %+v, want terminated", rec)
	}

	// A terminated record stays terminated; a lost process is restarted.
	c3 := r2.StartContainer(ctx2, spec, nil)
	<-c3.Done()
	if st := c3.State(); st.Phase != Terminated || st.RestartCount != 2 {
		t.Errorf("resumed terminated container got %+v, want Terminated with restart count 2", st)
	}
	rec.Terminated, rec.Pid = nil, pid // long gone
	if err := rec.save(spec.StatePath); err != nil {
		t.Fatal(err)
	}
	c4 := r2.StartContainer(ctx2, spec, nil)
	waitFor(t, "restart of a lost process", func() bool {
		st := c4.State()
		return st.Phase == Running && st.RestartCount == 3
	})
	if killed, err := KillRecorded(spec.StatePath, 5*time.Second); err != nil || !killed {
		t.Fatalf("KillRecorded got (%v, %v), want (true, nil)", killed, err)
	}
	waitFor(t, "restart after KillRecorded", func() bool { return c4.State().RestartCount == 4 })
	if err := c4.Stop(ctx2, 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
}

// TestContainerStdin gives a container a stdin FIFO: it waits for input,
// and with StdinOnce sees end of file when the session is done.
func TestContainerStdin(t *testing.T) {
	requireRoot(t)
	r, ctx, _ := startRuntime(t, false)
	spec := sandboxSpec(t, "c", "sh", "-c", `read a; echo "a=$a"; read b; echo "b=$b rc=$?"`)
	spec.StdinPath = filepath.Join(t.TempDir(), "c.stdin")
	spec.StdinOnce = true
	c := r.StartContainer(ctx, spec, nil)
	waitFor(t, "running", func() bool { return c.State().Phase == Running })
	var w *os.File
	var done func()
	waitFor(t, "stdin", func() bool { w, done = c.Stdin(); return w != nil })
	if _, err := w.WriteString("one\n"); err != nil {
		t.Fatal(err)
	}
	done()
	<-c.Done()
	b, err := os.ReadFile(spec.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), "a=one\nb= rc=1\n"; got != want {
		t.Errorf("output got %q, want %q", got, want)
	}
}

// TestContainerReadoptedExitStatus re-adopts processes that then exit by
// themselves: their supervisor's exit file gives the real exit status, so
// a Never container that exits 0 completes and one that exits 3 fails
// with 3, as if the runtime had started them.
func TestContainerReadoptedExitStatus(t *testing.T) {
	requireRoot(t)
	tests := []struct {
		code       string
		wantCode   int
		wantReason string
	}{
		{code: "0", wantCode: 0, wantReason: "Completed"},
		{code: "3", wantCode: 3, wantReason: "Error"},
	}
	for _, tc := range tests {
		t.Run("exit "+tc.code, func(t *testing.T) {
			fifo := filepath.Join(t.TempDir(), "code")
			if err := syscall.Mkfifo(fifo, 0o600); err != nil {
				t.Fatal(err)
			}
			spec := sandboxSpec(t, "c", "sh", "-c", `read code < "$1"; exit "$code"`, "sh", fifo)
			spec.StatePath = filepath.Join(t.TempDir(), "c.json")

			r1, ctx1, stop1 := startRuntime(t, true)
			c1 := r1.StartContainer(ctx1, spec, nil)
			waitFor(t, "running", func() bool { return c1.State().Phase == Running })
			pid := c1.State().Pid
			stop1()
			<-c1.Done()

			r2, ctx2, _ := startRuntime(t, false)
			c2 := r2.StartContainer(ctx2, spec, nil)
			if st := c2.State(); st.Phase != Running || st.Pid != pid {
				t.Fatalf("resumed state got %+v, want the running pid %d re-adopted", st, pid)
			}
			// The shell waits in open(2) for a writer; before it does, a
			// non-blocking open fails with ENXIO.
			var f *os.File
			waitFor(t, "the container reading its FIFO", func() bool {
				var err error
				f, err = os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0)
				if err != nil && !errors.Is(err, syscall.ENXIO) {
					t.Fatal(err)
				}
				return err == nil
			})
			_, err := f.WriteString(tc.code + "\n")
			f.Close()
			if err != nil {
				t.Fatal(err)
			}
			<-c2.Done()
			st := c2.State()
			if st.Phase != Terminated || st.Terminated.ExitCode != tc.wantCode || st.Terminated.Reason != tc.wantReason {
				t.Errorf("state got %+v (terminated %+v), want Terminated %s with exit code %d", st, st.Terminated,
					tc.wantReason, tc.wantCode)
			}
			if rec, _ := loadRecord(spec.StatePath); rec == nil || rec.Terminated == nil || rec.Terminated.ExitCode != tc.wantCode {
				t.Errorf("record got %+v, want terminated with exit code %d", rec, tc.wantCode)
			}
		})
	}
}

// TestContainerKilledOnStop stops a runtime without KeepOnExit: it kills
// the process and records how the run ended, so the next runtime restarts
// the container per its policy with that run as the last state, rather
// than finding a process gone without a trace.
func TestContainerKilledOnStop(t *testing.T) {
	requireRoot(t)
	spec := recordedSleeper(t)

	r1, ctx1, stop1 := startRuntime(t, false)
	c1 := r1.StartContainer(ctx1, spec, nil)
	waitFor(t, "running", func() bool { return c1.State().Phase == Running })
	pid := c1.State().Pid
	stop1()
	<-c1.Done()
	if ProcessAlive(pid, c1.procStart) {
		t.Fatalf("process %d still runs after the runtime stopped", pid)
	}
	rec, err := loadRecord(spec.StatePath)
	if err != nil || rec == nil || rec.Pid != 0 || rec.Ended == nil || rec.Ended.ExitCode != 137 {
		t.Fatalf("record after the stop got %+v (err %v), want no pid and the run ended with 137", rec, err)
	}

	r2, ctx2, _ := startRuntime(t, false)
	c2 := r2.StartContainer(ctx2, spec, nil)
	waitFor(t, "restarted", func() bool { st := c2.State(); return st.Phase == Running && st.RestartCount == 1 })
	if last := c2.State().Last; last == nil || last.Reason != "Error" || last.ExitCode != 137 {
		t.Errorf("last termination got %+v, want Error 137", last)
	}
	if err := c2.Stop(ctx2, 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
}

// TestContainerSupervisorKilled kills a container's supervisor: the
// process runs on, watched through its own pidfd, and its later end, with
// no exit status recorded, counts as ContainerStatusUnknown.
func TestContainerSupervisorKilled(t *testing.T) {
	requireRoot(t)
	spec := recordedSleeper(t)
	r, ctx, _ := startRuntime(t, false)
	c := r.StartContainer(ctx, spec, nil)
	waitFor(t, "running", func() bool { return c.State().Phase == Running })
	pid := c.State().Pid
	rec, err := loadRecord(spec.StatePath)
	if err != nil || rec == nil || rec.Pid != pid || rec.Supervisor == 0 || rec.Supervisor == pid {
		t.Fatalf("record got %+v (err %v), want pid %d and its supervisor", rec, err, pid)
	}
	if err := syscall.Kill(rec.Supervisor, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "record without supervisor", func() bool {
		rec, _ := loadRecord(spec.StatePath)
		return rec != nil && rec.Supervisor == 0
	})
	if st := c.State(); st.Phase != Running || st.Pid != pid || st.RestartCount != 0 || !ProcessAlive(pid, rec.ProcStart) {
		t.Fatalf("state after the supervisor died got %+v, want pid %d running on", st, pid)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "restart", func() bool { st := c.State(); return st.RestartCount == 1 && st.Phase == Running })
	if last := c.State().Last; last == nil || last.Reason != "ContainerStatusUnknown" || last.ExitCode != 137 {
		t.Errorf("last termination got %+v, want ContainerStatusUnknown 137", last)
	}
	if err := c.Stop(ctx, 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
}

// recordedSleeper returns the spec of a restartPolicy: Always container
// that sleeps, with its record in a directory of the test's own.
func recordedSleeper(t *testing.T) ContainerSpec {
	t.Helper()
	spec := sandboxSpec(t, "c", "sleep", "1000")
	spec.RestartPolicy = RestartAlways
	spec.StatePath = filepath.Join(t.TempDir(), "c.json")
	return spec
}

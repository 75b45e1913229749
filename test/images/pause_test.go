package testimages

import (
	"context"
	"errors"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// TestPauseSignals runs the pause binary and stops it the ways a runtime
// does: it must exit 0 on SIGINT and SIGTERM and keep running otherwise.
func TestPauseSignals(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("needs go to build pause")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	bin, err := buildPause(ctx, t.TempDir(), discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		sig      syscall.Signal
		wantCode int // -1: killed by sig
	}{
		{name: "SIGTERM", sig: syscall.SIGTERM, wantCode: 0},
		{name: "SIGINT", sig: syscall.SIGINT, wantCode: 0},
		{name: "SIGKILL", sig: syscall.SIGKILL, wantCode: -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.CommandContext(ctx, bin)
			stderr, err := cmd.StderrPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			// The warning about not being PID 1 comes after the signal
			// handlers are installed: read it before signalling.
			buf := make([]byte, 64)
			if _, err := stderr.Read(buf); err != nil {
				t.Fatal(err)
			}
			if err := cmd.Process.Signal(tc.sig); err != nil {
				t.Fatal(err)
			}
			err = cmd.Wait()
			var exit *exec.ExitError
			switch {
			case err == nil:
				if tc.wantCode != 0 {
					t.Errorf("got exit 0, want %d", tc.wantCode)
				}
			case errors.As(err, &exit):
				if got := exit.ExitCode(); got != tc.wantCode {
					t.Errorf("got exit %d (%v), want %d", got, err, tc.wantCode)
				}
			default:
				t.Fatal(err)
			}
		})
	}
}

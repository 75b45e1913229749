// Package kubectl finds the stock kubectl binary that tests drive svcnet
// with, the same way on every machine: $KUBECTL if set, else `kubectl` on
// PATH, else _output/bin/kubectl of this repository (built from the pinned
// upstream version by hack/build-e2e.sh, `make kubectl`). No machine-specific
// install path is ever assumed.
//
// Some installs (the Google Cloud SDK's) put a version dispatcher on PATH
// as `kubectl` with versioned binaries `kubectl.<minor>` beside it; Versioned
// finds those, so tests can also run a workflow with older stock clients.
package kubectl

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// Path returns the kubectl to run: $KUBECTL, `kubectl` on PATH, or
// _output/bin/kubectl of the repository, whichever is found first.
func Path() (string, error) {
	if p := os.Getenv("KUBECTL"); p != "" {
		// An explicit choice that does not work is an error, not a reason
		// to fall back silently to another kubectl.
		return exec.LookPath(p)
	}
	if p, err := exec.LookPath("kubectl"); err == nil {
		return p, nil
	}
	built := filepath.Join(repoRoot(), "_output", "bin", "kubectl")
	if p, err := exec.LookPath(built); err == nil {
		return p, nil
	}
	return "", errors.New("no kubectl: set $KUBECTL, put kubectl on PATH, or build one with `make kubectl`")
}

// Versioned returns the kubectl binary of one minor version ("1.32"):
// `kubectl.1.32` on PATH, or beside the kubectl Path finds (after
// resolving symlinks), where version-dispatching installs keep them.
func Versioned(minor string) (string, error) {
	name := "kubectl." + minor
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	if def, err := Path(); err == nil {
		if real, err := filepath.EvalSymlinks(def); err == nil {
			if p, err := exec.LookPath(filepath.Join(filepath.Dir(real), name)); err == nil {
				return p, nil
			}
		}
	}
	return "", fmt.Errorf("no %s on PATH or beside the default kubectl", name)
}

// Require returns Path's kubectl, or skips t with the reason when there is
// none.
func Require(t testing.TB) string {
	t.Helper()
	p, err := Path()
	if err != nil {
		t.Skipf("this test needs stock kubectl: %v", err)
	}
	return p
}

// RequireVersion returns Versioned's kubectl for minor, or skips t.
func RequireVersion(t testing.TB, minor string) string {
	t.Helper()
	p, err := Versioned(minor)
	if err != nil {
		t.Skipf("this test needs stock kubectl %s: %v", minor, err)
	}
	return p
}

// repoRoot is the repository's top directory, found from this file.
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

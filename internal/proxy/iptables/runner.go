package iptables

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
)

// Runner is how the proxier talks to the kernel's iptables. The real one
// execs the iptables binaries; Fake keeps the tables in memory.
type Runner interface {
	// Restore feeds data to "iptables-restore --noflush": chains declared
	// in data are created or flushed, other chains are left alone.
	Restore(ctx context.Context, data []byte) error
	// Save returns "iptables-save -t table" output.
	Save(ctx context.Context, table string) ([]byte, error)
	// EnsureRule inserts rule at position pos (1-based) of chain unless an
	// identical rule exists.
	EnsureRule(ctx context.Context, table, chain string, pos int, rule []string) error
	// DeleteRule deletes rule from chain; a missing rule is not an error.
	DeleteRule(ctx context.Context, table, chain string, rule []string) error
}

// Binaries the real Runner needs.
var binaries = []string{"iptables", "iptables-restore", "iptables-save"}

// execRunner runs the iptables binaries (IPv4).
type execRunner struct {
	iptables, restore, save string
}

var _ Runner = (*execRunner)(nil)

// newExecRunner finds the binaries in PATH.
func newExecRunner() (*execRunner, error) {
	paths := make([]string, len(binaries))
	for i, b := range binaries {
		p, err := exec.LookPath(b)
		if err != nil {
			return nil, fmt.Errorf("iptables: %s not found (install the iptables package): %w", b, err)
		}
		paths[i] = p
	}
	return &execRunner{iptables: paths[0], restore: paths[1], save: paths[2]}, nil
}

func run(cmd *exec.Cmd) ([]byte, error) {
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), fmt.Errorf("%s: %w: %s", strings.Join(cmd.Args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}

func (r *execRunner) Restore(ctx context.Context, data []byte) error {
	cmd := exec.CommandContext(ctx, r.restore, "-w", "5", "--noflush")
	cmd.Stdin = bytes.NewReader(data)
	_, err := run(cmd)
	return err
}

func (r *execRunner) Save(ctx context.Context, table string) ([]byte, error) {
	return run(exec.CommandContext(ctx, r.save, "-t", table))
}

// exists runs "iptables -C"; exit status 1 means "no such rule".
func (r *execRunner) exists(ctx context.Context, table, chain string, rule []string) (bool, error) {
	args := append([]string{"-w", "5", "-t", table, "-C", chain}, rule...)
	_, err := run(exec.CommandContext(ctx, r.iptables, args...))
	var ee *exec.ExitError
	switch {
	case err == nil:
		return true, nil
	case errors.As(err, &ee) && ee.ExitCode() == 1:
		return false, nil
	}
	return false, err
}

func (r *execRunner) EnsureRule(ctx context.Context, table, chain string, pos int, rule []string) error {
	ok, err := r.exists(ctx, table, chain, rule)
	if err != nil || ok {
		return err
	}
	args := append([]string{"-w", "5", "-t", table, "-I", chain, fmt.Sprint(pos)}, rule...)
	_, err = run(exec.CommandContext(ctx, r.iptables, args...))
	return err
}

func (r *execRunner) DeleteRule(ctx context.Context, table, chain string, rule []string) error {
	ok, err := r.exists(ctx, table, chain, rule)
	if err != nil || !ok {
		return err
	}
	args := append([]string{"-w", "5", "-t", table, "-D", chain}, rule...)
	_, err = run(exec.CommandContext(ctx, r.iptables, args...))
	return err
}

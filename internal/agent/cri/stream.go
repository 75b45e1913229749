package cri

import (
	"context"
	"errors"
	"fmt"

	"net/url"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	utilexec "k8s.io/utils/exec"

	"github.com/svcnet/svcnet/internal/agent/exec"
)

// Exec runs opts.Command in the container's current run through the
// runtime's streaming server, with the session's streams, and returns the
// command's exit code.
func (c *Container) Exec(ctx context.Context, opts exec.Options, s exec.Streams) (int, error) {
	id := c.ID()
	if id == "" {
		return -1, errors.New("container is not running")
	}
	resp, err := c.r.rs.Exec(quiet(ctx), &runtimeapi.ExecRequest{ContainerId: id, Cmd: opts.Command, Tty: opts.TTY,
		Stdin: opts.Stdin, Stdout: opts.Stdout, Stderr: opts.Stderr && !opts.TTY})
	if err != nil {
		return -1, fmt.Errorf("preparing exec: %w", err)
	}
	return stream(ctx, resp.Url, opts, s)
}

// Attach attaches the session's streams to the container's current run
// through the runtime's streaming server until it ends or ctx ends.
func (c *Container) Attach(ctx context.Context, opts exec.Options, s exec.Streams) (int, error) {
	id := c.ID()
	if id == "" {
		return -1, errors.New("container is not running")
	}
	resp, err := c.r.rs.Attach(quiet(ctx), &runtimeapi.AttachRequest{ContainerId: id, Tty: opts.TTY,
		Stdin: opts.Stdin, Stdout: opts.Stdout, Stderr: opts.Stderr && !opts.TTY})
	if err != nil {
		return -1, fmt.Errorf("preparing attach: %w", err)
	}
	return stream(ctx, resp.Url, opts, s)
}

// stream is the client side of a remote command session with the runtime
// (SPDY, as kubelet proxies it), joined to the session served to our
// client.
func stream(ctx context.Context, rawURL string, opts exec.Options, s exec.Streams) (int, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return -1, fmt.Errorf("runtime streaming URL: %w", err)
	}
	ex, err := remotecommand.NewSPDYExecutor(&rest.Config{}, "POST", u)
	if err != nil {
		return -1, err
	}
	so := remotecommand.StreamOptions{Tty: opts.TTY}
	if opts.Stdin && s.Stdin != nil {
		so.Stdin = s.Stdin
	}
	if opts.Stdout && s.Stdout != nil {
		so.Stdout = s.Stdout
	}
	if opts.Stderr && !opts.TTY && s.Stderr != nil {
		so.Stderr = s.Stderr
	}
	if opts.TTY && s.Resize != nil {
		so.TerminalSizeQueue = sizeQueue{ctx: ctx, ch: s.Resize}
	}
	err = ex.StreamWithContext(ctx, so)
	var exitErr utilexec.ExitError
	if errors.As(err, &exitErr) {
		return exitErr.ExitStatus(), nil
	}
	if err != nil {
		return -1, err
	}
	return 0, nil
}

// sizeQueue hands the client's terminal sizes to the executor.
type sizeQueue struct {
	ctx context.Context
	ch  <-chan exec.TerminalSize
}

func (q sizeQueue) Next() *remotecommand.TerminalSize {
	select {
	case <-q.ctx.Done():
		return nil
	case sz, ok := <-q.ch:
		if !ok {
			return nil
		}
		return &remotecommand.TerminalSize{Width: sz.Width, Height: sz.Height}
	}
}

package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	goruntime "runtime"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
	v1 "k8s.io/api/core/v1"

	"github.com/svcnet/svcnet/internal/agent/cri"
	"github.com/svcnet/svcnet/internal/agent/exec"
	"github.com/svcnet/svcnet/internal/agent/images"
	"github.com/svcnet/svcnet/internal/agent/portforward"
	"github.com/svcnet/svcnet/internal/agent/runtime"
)

// execWaitDelay is how long an ended exec command's output may still be
// drained, when a process it left behind holds the pipes open.
const execWaitDelay = time.Second

// ExecHandler serves /exec/<ns>/<pod>/<container>?command=...&stdin=
// &stdout=&stderr=&tty=: the command runs in the sandbox of a running
// container (its network namespace, hostname, resolv.conf, hosts and
// environment) and is streamed over the WebSocket remote command protocol.
func (a *Agent) ExecHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/exec/"), "/")
		if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
			http.NotFound(w, r)
			return
		}
		opts, err := exec.ParseOptions(r.URL.Query())
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		h, spec, ok := a.runningContainer(parts[0], parts[1], parts[2])
		if !ok {
			http.Error(w, fmt.Sprintf("container not found (%q)", parts[2]), http.StatusNotFound)
			return
		}
		if cc, ok := h.(*cri.Container); ok {
			err = exec.Serve(w, r, opts, func(ctx context.Context, s exec.Streams) (int, error) {
				return cc.Exec(ctx, opts, s)
			})
			if errors.Is(err, exec.ErrNotWebSocket) {
				http.Error(w, err.Error(), http.StatusBadRequest)
			}
			return
		}
		opts.Command = images.ExecArgv(a.containerImage(parts[0], parts[1], parts[2]), opts.Command, a.cfg.SelfArgv)
		err = exec.Serve(w, r, opts, func(ctx context.Context, s exec.Streams) (int, error) {
			return runExec(ctx, a.rt, spec, opts, s)
		})
		if errors.Is(err, exec.ErrNotWebSocket) {
			http.Error(w, err.Error(), http.StatusBadRequest)
		}
	})
}

// PortForwardHandler serves /portForward/<ns>/<pod>: the port-forward
// protocol (SPDY, or SPDY tunnelled in a WebSocket), each forwarded
// connection dialled to the pod's IP from the node, which routes to its
// pods.
func (a *Agent) PortForwardHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/portForward/"), "/")
		if len(parts) != 2 || parts[0] == "" || parts[1] == "" {
			http.NotFound(w, r)
			return
		}
		ip, ok := a.podIP(parts[0], parts[1])
		if !ok {
			http.Error(w, fmt.Sprintf("pod not found (%q)", parts[0]+"/"+parts[1]), http.StatusNotFound)
			return
		}
		err := portforward.Serve(w, r, portforward.Config{Pod: parts[0] + "/" + parts[1], Logger: a.log,
			Dial: func(ctx context.Context, port uint16) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, "tcp", net.JoinHostPort(ip, fmt.Sprint(port)))
			}})
		if errors.Is(err, portforward.ErrNotUpgrade) {
			http.Error(w, err.Error(), http.StatusBadRequest)
		}
	})
}

// podIP returns the IP of a pod of this node whose sandbox is up.
func (a *Agent) podIP(ns, name string) (string, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, w := range a.workers {
		w.mu.Lock()
		p, deleted, sb := w.pod, w.deleted, w.sandbox
		w.mu.Unlock()
		if p.Namespace == ns && p.Name == name && !deleted && sb != nil {
			return sb.IP.String(), true
		}
	}
	return "", false
}

// runningContainer returns a running container of pod ns/name and, for
// the process runtime, its spec, for exec and attach.
func (a *Agent) runningContainer(ns, name, container string) (containerHandle, runtime.ContainerSpec, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, w := range a.workers {
		w.mu.Lock()
		p, deleted := w.pod, w.deleted
		spec, ok := w.specs[container]
		rc := w.containers[container]
		w.mu.Unlock()
		if _, isCRI := rc.(*cri.Container); isCRI {
			ok = true // its spec is the runtime's
		}
		if p.Namespace == ns && p.Name == name && !deleted && ok && rc != nil && rc.State().Phase == runtime.Running {
			return rc, spec, true
		}
	}
	return nil, runtime.ContainerSpec{}, false
}

// containerImage returns the image of a container of a pod of this node
// ("" when unknown).
func (a *Agent) containerImage(ns, name, container string) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, w := range a.workers {
		w.mu.Lock()
		p := w.pod
		w.mu.Unlock()
		if p.Namespace != ns || p.Name != name {
			continue
		}
		for _, c := range append(append([]v1.Container(nil), p.Spec.InitContainers...), p.Spec.Containers...) {
			if c.Name == container {
				return c.Image
			}
		}
	}
	return ""
}

// runExec runs opts.Command in the sandbox of spec with the session's
// streams and returns its exit code (128+signal when killed).
func runExec(ctx context.Context, rt *runtime.Runtime, spec runtime.ContainerSpec, opts exec.Options,
	s exec.Streams) (int, error) {
	cmd := rt.Command(spec, opts.Command)
	cmd.WaitDelay = execWaitDelay
	done := make(chan struct{})
	var tty *os.File
	if opts.TTY {
		master, slave, err := openPTY()
		if err != nil {
			return -1, err
		}
		defer master.Close()
		defer slave.Close()
		tty = master
		cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
		cmd.SysProcAttr.Setpgid = false
		cmd.SysProcAttr.Setsid, cmd.SysProcAttr.Setctty, cmd.SysProcAttr.Ctty = true, true, 0
	} else {
		if s.Stdin != nil {
			cmd.Stdin = s.Stdin
		}
		if s.Stdout != nil {
			cmd.Stdout = s.Stdout
		}
		if s.Stderr != nil {
			cmd.Stderr = s.Stderr
		}
	}
	// The process gets SIGKILL when the thread that forked it exits:
	// keep this goroutine on its thread until the process is gone.
	goruntime.LockOSThread()
	defer goruntime.UnlockOSThread()
	if err := cmd.Start(); err != nil {
		close(done)
		return -1, fmt.Errorf("starting %s: %w", opts.Command[0], err)
	}
	var output chan struct{}
	if tty != nil {
		output = make(chan struct{})
		_ = cmd.Stdin.(*os.File).Close()
		go func() {
			defer close(output)
			if s.Stdout != nil {
				_, _ = io.Copy(s.Stdout, tty)
			} else {
				_, _ = io.Copy(io.Discard, tty)
			}
		}()
		if s.Stdin != nil {
			go func() { _, _ = io.Copy(tty, s.Stdin) }()
		}
		go func() {
			for {
				select {
				case size := <-s.Resize:
					_ = ptyControl(tty, func(fd int) error {
						return unix.IoctlSetWinsize(fd, unix.TIOCSWINSZ, &unix.Winsize{Row: size.Height, Col: size.Width})
					})
				case <-done:
					return
				}
			}
		}()
	}
	go func() {
		select {
		case <-ctx.Done():
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		case <-done:
		}
	}()
	// An error here is a copy to a client that went away; the exit
	// status below still holds.
	err := cmd.Wait()
	close(done)
	if output != nil {
		t := time.NewTimer(execWaitDelay)
		select {
		case <-output:
		case <-t.C:
		}
		t.Stop()
	}
	if cmd.ProcessState == nil {
		return -1, err
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal()), nil
	}
	return cmd.ProcessState.ExitCode(), nil
}

// openPTY allocates a pseudo-terminal pair.
func openPTY() (master, slave *os.File, err error) {
	master, err = os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("opening pty: %w", err)
	}
	var n uint32
	err = ptyControl(master, func(fd int) error {
		if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
			return fmt.Errorf("unlocking pty: %w", err)
		}
		var err error
		n, err = unix.IoctlGetUint32(fd, unix.TIOCGPTN)
		return err
	})
	if err != nil {
		master.Close()
		return nil, nil, fmt.Errorf("setting up pty: %w", err)
	}
	slave, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY|syscall.O_CLOEXEC, 0)
	if err != nil {
		master.Close()
		return nil, nil, fmt.Errorf("opening pty slave: %w", err)
	}
	return master, slave, nil
}

// ptyControl runs f on the descriptor of the pty master without taking it
// out of non-blocking mode (as Fd would), so Close still ends a pending Read.
func ptyControl(f *os.File, fn func(fd int) error) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = fn(int(fd)) }); err != nil {
		return err
	}
	return ferr
}

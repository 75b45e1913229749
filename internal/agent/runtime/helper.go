package runtime

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	goruntime "runtime"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// HelperCommand is the hidden subcommand of the svcnet binary that runs
// HelperMain.
const HelperCommand = "pod-exec"

// defaultPath is the PATH of a container whose env sets none.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// helperOptions are the parsed arguments of the helper.
type helperOptions struct {
	netns, hostname, resolv, hosts string
	mountProc                      bool
	mounts                         []Mount
	argv                           []string
	// exitFile, cloneFlags and reportFD select the supervisor (see
	// supervisor.go): argv is then a helper command line.
	exitFile   string
	cloneFlags uint64
	reportFD   int
}

// HelperArgs returns the helper's arguments (after the subcommand name) for
// the given sandbox files and program.
func HelperArgs(netns, hostname, resolv, hosts string, mountProc bool, argv []string) []string {
	args := []string{"--netns", netns, "--hostname", hostname, "--resolv", resolv, "--hosts", hosts}
	if mountProc {
		args = append(args, "--mount-proc")
	}
	return append(append(args, "--"), argv...)
}

func parseHelperArgs(args []string) (helperOptions, error) {
	var o helperOptions
	fs := flag.NewFlagSet(HelperCommand, flag.ContinueOnError)
	fs.StringVar(&o.netns, "netns", "", "network namespace to join")
	fs.StringVar(&o.hostname, "hostname", "", "hostname to set")
	fs.StringVar(&o.resolv, "resolv", "", "file to bind-mount over /etc/resolv.conf")
	fs.StringVar(&o.hosts, "hosts", "", "file to bind-mount over /etc/hosts")
	fs.BoolVar(&o.mountProc, "mount-proc", false, "mount a fresh /proc (for a new PID namespace)")
	fs.Func(mountFlag, "bind mount (JSON of Mount), repeatable", parseMount(&o.mounts))
	fs.StringVar(&o.exitFile, "exit-file", "", "supervise the helper command given as program, writing its exit status here")
	fs.Uint64Var(&o.cloneFlags, "cloneflags", 0, "namespaces (clone flags) of the supervised command")
	fs.IntVar(&o.reportFD, "report-fd", 0, "descriptor on which the supervisor reports the started pid")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	o.argv = fs.Args()
	if len(o.argv) == 0 {
		return o, errors.New("no program given")
	}
	return o, nil
}

// HelperMain is the body of the pod-exec helper. The parent started it in
// new mount, UTS and (optionally) PID namespaces; it joins the pod's network
// namespace on its locked thread, makes mounts private, bind-mounts the
// container's volumes and the pod's resolv.conf and hosts, sets the
// hostname and execs the program, found through the PATH of its
// environment. It returns only on error.
//
// Given --exit-file, it is instead the supervising parent of a container
// process (see supervisor.go): it exits once that process has ended and
// its exit status is written.
func HelperMain(args []string) error {
	goruntime.LockOSThread()
	o, err := parseHelperArgs(args)
	if err != nil {
		return err
	}
	if o.exitFile != "" {
		return supervise(o)
	}
	if os.Getpid() == 1 {
		discardTerminationSignals()
	}
	if o.netns != "" {
		fd, err := unix.Open(o.netns, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("opening netns: %w", err)
		}
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			return fmt.Errorf("joining netns: %w", err)
		}
		unix.Close(fd)
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("making mounts private: %w", err)
	}
	if err := mountAll(o.mounts); err != nil {
		return err
	}
	for _, m := range []struct{ src, dst string }{{o.resolv, "/etc/resolv.conf"}, {o.hosts, "/etc/hosts"}} {
		if m.src == "" {
			continue
		}
		if err := unix.Mount(m.src, m.dst, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind-mounting %s: %w", m.dst, err)
		}
	}
	if o.mountProc {
		if err := unix.Mount("proc", "/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
			return fmt.Errorf("mounting /proc: %w", err)
		}
	}
	if o.hostname != "" {
		if err := unix.Sethostname([]byte(o.hostname)); err != nil {
			return fmt.Errorf("setting hostname: %w", err)
		}
	}
	prog := o.argv[0]
	if !strings.Contains(prog, "/") {
		p, err := lookPath(prog, os.Getenv("PATH"))
		if err != nil {
			return err
		}
		prog = p
	}
	return fmt.Errorf("executing %s: %w", prog, syscall.Exec(prog, o.argv, os.Environ()))
}

// discardTerminationSignals makes the helper, while it is the pid
// namespace's init and before it execs the program, treat termination
// signals as the kernel treats them for an init without a handler: they are
// dropped. Without this the Go runtime would exit on a SIGTERM sent in that
// window (a pod deleted just after it started) with a status of its own,
// where the program would have ignored the signal and been killed after the
// grace period. exec resets the handlers, so the program gets the default
// dispositions. A signal that arrives while the Go runtime is still
// starting, before this runs, still ends the helper that way.
func discardTerminationSignals() {
	signal.Notify(make(chan os.Signal, 1), unix.SIGTERM, unix.SIGINT, unix.SIGHUP, unix.SIGQUIT, unix.SIGUSR1, unix.SIGUSR2)
}

// lookPath finds file in the directories of path.
func lookPath(file, path string) (string, error) {
	if path == "" {
		path = defaultPath
	}
	for _, dir := range strings.Split(path, ":") {
		if dir == "" {
			dir = "."
		}
		p := dir + "/" + file
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%q: %w", file, exec.ErrNotFound)
}

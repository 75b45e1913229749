// Package ctrdtest runs a real containerd for tests: its own root, state,
// socket and configuration in one directory, CRI enabled, and the public
// image registries mirrored to a test registry (see package testimages), so
// pods pull the locally built images.
//
// containerd runs in the caller's network namespace, and the CRI plugin
// makes pod network namespaces and veths through CNI: start it only inside
// an isolated namespace (hack/netns-run.sh), never in the host's.
package ctrdtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Timeouts of containerd's start and stop. Starting takes well under a
// second on an idle machine; the margin is for a loaded CI runner.
const (
	startTimeout = 30 * time.Second
	stopTimeout  = 15 * time.Second
	// maxSocketPath is the longest unix socket path (sun_path's 108 bytes,
	// NUL included).
	maxSocketPath = 107
)

// Config describes the containerd to start.
type Config struct {
	// Dir holds root, state, socket, configuration and log. Required; short
	// enough for the socket path (see TempDir).
	Dir string
	// RegistryAddr (host:port) serves the images of docker.io,
	// registry.k8s.io, gcr.io, k8s.gcr.io and quay.io over plain HTTP,
	// under their repository paths. Empty: no mirror.
	RegistryAddr string
	// CNIBinDir holds the CNI plugins. Default: /usr/lib/cni (Debian's
	// containernetworking-plugins).
	CNIBinDir string
	// CNIConfDir holds the CNI network configuration. Default: Dir/cni
	// (created empty: pods cannot start until a test writes one there).
	CNIConfDir string
	// SandboxImage is the pause image of every pod. Default:
	// registry.k8s.io/pause:3.10.
	SandboxImage string
	// Snapshotter unpacks images. Default: overlayfs; native where Dir's
	// file system cannot hold overlay upper directories.
	Snapshotter string
	// Netns, if set, is the named network namespace (ip netns) containerd
	// runs in; default: the caller's.
	Netns string
	// Logger receives start and stop; nil discards them. containerd's own
	// output goes to Dir/containerd.log.
	Logger *slog.Logger
}

// Containerd is a running containerd started by Start.
type Containerd struct {
	cfg      Config
	cmd      *exec.Cmd
	exited   chan struct{} // closed when cmd has been waited for
	waitErr  error         // cmd's exit; read after exited is closed
	stopOnce sync.Once
	stopErr  error
}

// Available tells why containerd cannot run here (nil if it can): it needs
// root and the containerd, runc and containerd-shim-runc-v2 binaries on
// PATH. Tests skip with its message.
func Available() error {
	if os.Geteuid() != 0 {
		return errors.New("containerd needs root")
	}
	for _, bin := range []string{"containerd", "runc", "containerd-shim-runc-v2"} {
		if _, err := exec.LookPath(bin); err != nil {
			return fmt.Errorf("%s not found: %w", bin, err)
		}
	}
	return nil
}

// Start writes cfg's configuration and starts containerd, returning once
// its CRI service answers. The process ends with Stop (or, should the
// caller die first, with the thread that started it).
func Start(ctx context.Context, cfg Config) (*Containerd, error) {
	if cfg.Dir == "" {
		return nil, errors.New("ctrdtest: Config.Dir is required")
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, err
	}
	cfg.Dir = dir
	if n := len(socketPath(cfg.Dir)); n > maxSocketPath {
		return nil, fmt.Errorf("ctrdtest: socket path %s is %d bytes, more than a unix socket allows (%d); use a shorter Dir", socketPath(cfg.Dir), n, maxSocketPath)
	}
	if cfg.CNIBinDir == "" {
		cfg.CNIBinDir = "/usr/lib/cni"
	}
	if cfg.CNIConfDir == "" {
		cfg.CNIConfDir = filepath.Join(cfg.Dir, "cni")
	}
	if cfg.SandboxImage == "" {
		cfg.SandboxImage = "registry.k8s.io/pause:3.10"
	}
	if cfg.Snapshotter == "" {
		cfg.Snapshotter = "overlayfs"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	for _, d := range []string{cfg.Dir, cfg.CNIConfDir, filepath.Join(cfg.Dir, "tmp")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	configPath := filepath.Join(cfg.Dir, "config.toml")
	if err := os.WriteFile(configPath, []byte(configTOML(cfg)), 0o644); err != nil {
		return nil, err
	}
	logFile, err := os.OpenFile(logPath(cfg.Dir), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer logFile.Close() // the child holds its own copy

	start := time.Now()
	cmd := exec.Command("containerd", "--config", configPath)
	if cfg.Netns != "" {
		// nsenter execs containerd in place (cmd's process is it) and,
		// unlike ip netns exec, keeps the caller's /sys with its cgroup
		// mounts, which runc needs.
		cmd = exec.Command("nsenter", "--net="+filepath.Join("/var/run/netns", cfg.Netns), "containerd", "--config", configPath)
	}
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Setpgid:   true,            // the terminal's ^C is for the test, which stops containerd
		Pdeathsig: syscall.SIGTERM, // no containerd left behind by a test binary that died
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start containerd: %w", err)
	}
	c := &Containerd{cfg: cfg, cmd: cmd, exited: make(chan struct{})}
	go func() {
		c.waitErr = cmd.Wait()
		close(c.exited)
	}()
	if err := c.waitReady(ctx); err != nil {
		c.Stop()
		return nil, fmt.Errorf("containerd not ready: %w\n%s", err, tail(logPath(cfg.Dir)))
	}
	cfg.Logger.Info("Started containerd", "endpoint", c.Endpoint(), "pid", cmd.Process.Pid, "duration", time.Since(start).Round(time.Millisecond))
	return c, nil
}

// waitReady polls CRI's Version until it answers, containerd exits, or
// startTimeout passes.
func (c *Containerd) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	ticker := time.NewTicker(50 * time.Millisecond)
	defer ticker.Stop()
	var last error
	for {
		if last = c.ping(ctx); last == nil {
			return nil
		}
		select {
		case <-c.exited:
			return fmt.Errorf("containerd exited: %v", c.waitErr)
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %v)", ctx.Err(), last)
		case <-ticker.C:
		}
	}
}

// ping asks the CRI runtime service for its version.
func (c *Containerd) ping(ctx context.Context) error {
	if _, err := os.Stat(socketPath(c.cfg.Dir)); err != nil {
		return err
	}
	conn, err := c.Dial()
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	_, err = runtimeapi.NewRuntimeServiceClient(conn).Version(ctx, &runtimeapi.VersionRequest{})
	return err
}

// Endpoint is containerd's CRI endpoint ("unix:///.../containerd.sock").
func (c *Containerd) Endpoint() string { return "unix://" + socketPath(c.cfg.Dir) }

// Dial opens a gRPC connection to containerd, for CRI clients
// (runtimeapi.NewRuntimeServiceClient, NewImageServiceClient).
func (c *Containerd) Dial() (*grpc.ClientConn, error) {
	return grpc.NewClient(c.Endpoint(), grpc.WithTransportCredentials(insecure.NewCredentials()))
}

// Exited is closed when the containerd process has ended, whether by Stop
// or on its own.
func (c *Containerd) Exited() <-chan struct{} { return c.exited }

// LogPath is the file containerd writes its log to.
func (c *Containerd) LogPath() string { return logPath(c.cfg.Dir) }

// Stop removes every pod sandbox through CRI (stopping their containers and
// shims), terminates containerd (SIGTERM, SIGKILL after stopTimeout), waits
// for it and detaches what it left mounted under Dir. It may be called more
// than once.
func (c *Containerd) Stop() error {
	c.stopOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
		defer cancel()
		errs := []error{c.removeSandboxes(ctx)}
		c.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-c.exited:
		case <-ctx.Done():
			c.cmd.Process.Kill()
			<-c.exited
			errs = append(errs, errors.New("containerd ignored SIGTERM, killed"))
		}
		errs = append(errs, unmountUnder(c.cfg.Dir))
		c.stopErr = errors.Join(errs...)
		c.cfg.Logger.Info("Stopped containerd", "err", c.stopErr)
	})
	return c.stopErr
}

// removeSandboxes stops and removes every pod sandbox.
func (c *Containerd) removeSandboxes(ctx context.Context) error {
	select {
	case <-c.exited:
		return nil
	default:
	}
	conn, err := c.Dial()
	if err != nil {
		return err
	}
	defer conn.Close()
	rt := runtimeapi.NewRuntimeServiceClient(conn)
	resp, err := rt.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{})
	if err != nil {
		return fmt.Errorf("list sandboxes: %w", err)
	}
	var errs []error
	for _, sb := range resp.Items {
		if _, err := rt.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: sb.Id}); err != nil {
			errs = append(errs, fmt.Errorf("stop sandbox %s: %w", sb.Id, err))
		}
		if _, err := rt.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: sb.Id}); err != nil {
			errs = append(errs, fmt.Errorf("remove sandbox %s: %w", sb.Id, err))
		}
	}
	return errors.Join(errs...)
}

func logPath(dir string) string { return filepath.Join(dir, "containerd.log") }

// tail returns the end of the file at p, for an error message.
func tail(p string) string {
	data, err := os.ReadFile(p)
	if err != nil {
		return ""
	}
	const max = 4096
	if len(data) > max {
		data = data[len(data)-max:]
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			data = data[i+1:]
		}
	}
	return string(data)
}

// Command devcontainerd runs a containerd for a development or walkthrough
// node of svcnet, with the images the tests and examples/ use and no
// internet: it builds them (package test/images: pause, busybox, nginx,
// agnhost, glibc-dns-testing and the examples' application images), serves
// them from a registry on the loopback of the named network namespace, and
// starts containerd in that namespace with the registry as mirror of
// docker.io, registry.k8s.io and friends (package test/containerd).
//
//	devcontainerd -netns svcnet-dev -dir _output/containerd [-flags-file FILE]
//
// Once containerd answers, it prints the `svcnet server` (or `svcnet agent`)
// flags that run the node's pods in it on stdout, on one line, and writes
// them one per line to -flags-file, for scripts to wait for. It stays up
// until SIGTERM or SIGINT, then removes every pod sandbox, stops containerd,
// detaches what it left mounted under -dir and removes -flags-file. It exits
// 1 if containerd ends on its own.
//
// It needs root. It listens on nothing in its own network namespace: the
// registry's socket and containerd (and so every pod network) belong to
// -netns, which must exist (ip netns add). Building the images runs `go
// build` and, the first time, downloads and compiles agnhost (minutes), from
// the caller's namespace.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	ctrdtest "github.com/svcnet/svcnet/test/containerd"
	testimages "github.com/svcnet/svcnet/test/images"
)

// buildTimeout bounds building the images: seconds from the cache, minutes
// when agnhost is compiled the first time on a slow machine.
const buildTimeout = 30 * time.Minute

// startTimeout bounds pushing the images to the registry and starting
// containerd.
const startTimeout = 2 * time.Minute

// config is the command line.
type config struct {
	netns     string
	dir       string
	cacheDir  string
	cniBinDir string
	flagsFile string
	agnhost   bool
	examples  bool
}

func main() {
	var cfg config
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	flag.StringVar(&cfg.netns, "netns", "", "network namespace (ip netns) of containerd and the registry (required)")
	flag.StringVar(&cfg.dir, "dir", "", "containerd's root, state, socket, CNI configuration and log (required; short: the socket path must fit in 107 bytes)")
	flag.StringVar(&cfg.cacheDir, "cache-dir", filepath.Join(cache, "svcnet-test-images"), "compiled programs and image layers kept between runs (the e2e tests' cache)")
	flag.StringVar(&cfg.cniBinDir, "cni-bin-dir", defaultCNIBinDir(), "CNI plugins (bridge, host-local, portmap, loopback)")
	flag.StringVar(&cfg.flagsFile, "flags-file", "", "write svcnet's flags here, one per line, once containerd is ready")
	flag.BoolVar(&cfg.agnhost, "agnhost", true, "build agnhost and glibc-dns-testing (compiled from upstream's source, minutes the first time)")
	flag.BoolVar(&cfg.examples, "examples", true, "build the application images of examples/")
	verbose := flag.Bool("v", false, "log at debug level (every registry request)")
	flag.Parse()
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	slog.SetDefault(log) // the registry logs its requests through the default logger
	if err := run(cfg, log); err != nil {
		log.Error("Stopped", "err", err)
		os.Exit(1)
	}
}

// defaultCNIBinDir is /opt/cni/bin where the plugins are installed there,
// else Debian's /usr/lib/cni (svcnet's own default).
func defaultCNIBinDir() string {
	if _, err := os.Stat("/opt/cni/bin/bridge"); err == nil {
		return "/opt/cni/bin"
	}
	return "/usr/lib/cni"
}

// run builds and serves the images and runs containerd until a signal.
func run(cfg config, log *slog.Logger) error {
	if cfg.netns == "" || cfg.dir == "" {
		return errors.New("-netns and -dir are required")
	}
	if flag.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", flag.Args())
	}
	if err := ctrdtest.Available(); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join("/var/run/netns", cfg.netns)); err != nil {
		return fmt.Errorf("network namespace %s: %w", cfg.netns, err)
	}
	dir, err := filepath.Abs(cfg.dir)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	buildCtx, cancel := context.WithTimeout(ctx, buildTimeout)
	defer cancel()
	imgs, err := testimages.Build(buildCtx, testimages.Config{
		CacheDir: cfg.cacheDir,
		Agnhost:  cfg.agnhost,
		Examples: cfg.examples,
		Logger:   log,
	})
	if err != nil {
		return err
	}

	startCtx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	ln, err := ctrdtest.ListenInNetns(cfg.netns, "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("registry: %w", err)
	}
	reg, err := testimages.ServeListener(startCtx, ln, imgs)
	if err != nil {
		return err
	}
	defer reg.Close()
	cniConfDir := filepath.Join(dir, "cni")
	ctd, err := ctrdtest.Start(startCtx, ctrdtest.Config{
		Dir:          dir,
		RegistryAddr: reg.Addr(),
		CNIBinDir:    cfg.cniBinDir,
		CNIConfDir:   cniConfDir,
		Netns:        cfg.netns,
		Logger:       log,
	})
	if err != nil {
		return err
	}
	defer ctd.Stop()

	flags := []string{"--container-runtime=remote", "--container-runtime-endpoint", ctd.Endpoint(),
		"--cni-conf-dir", cniConfDir, "--cni-bin-dir", cfg.cniBinDir}
	if cfg.flagsFile != "" {
		if err := writeFileAtomic(cfg.flagsFile, strings.Join(flags, "\n")+"\n"); err != nil {
			return err
		}
		defer os.Remove(cfg.flagsFile)
	}
	log.Info("Started the image registry and containerd", "netns", cfg.netns, "registry", reg.Addr(), "images", len(imgs),
		"log", ctd.LogPath())
	fmt.Println(strings.Join(flags, " "))

	select {
	case <-ctx.Done():
		log.Info("Received a signal, stopping containerd", "signal", context.Cause(ctx))
		return ctd.Stop()
	case <-ctd.Exited():
		return fmt.Errorf("containerd exited on its own; see %s", ctd.LogPath())
	}
}

// writeFileAtomic writes data to p through a temporary file, so a reader
// polling for p never sees it half written.
func writeFileAtomic(p, data string) error {
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, []byte(data), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, p)
}

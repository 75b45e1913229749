package testimages

import (
	"bytes"
	"context"
	"crypto/sha256"
	_ "embed" // the sources of the pause and hostname programs
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

//go:embed pause/main.go
var pauseSource string

//go:embed hostname/main.go
var hostnameSource string

// goBuildFlags are the flags goBuild passes to every build (no debug
// information, no local paths; goEnv makes the binary static), part of the
// cache key of the programs buildProgram compiles.
const goBuildFlags = "-trimpath -ldflags=-s -w"

// goEnv is the environment of `go build` for a static linux/amd64 binary.
func goEnv(extra ...string) []string {
	env := append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64", "GOWORK=off", "GOFLAGS=")
	return append(env, extra...)
}

// buildPause compiles the embedded pause program (see buildProgram).
func buildPause(ctx context.Context, cacheDir string, log *slog.Logger) (string, error) {
	return buildProgram(ctx, cacheDir, "pause", pauseSource, log)
}

// buildHostname compiles the embedded hostname web server (see
// buildProgram).
func buildHostname(ctx context.Context, cacheDir string, log *slog.Logger) (string, error) {
	return buildProgram(ctx, cacheDir, "hostname", hostnameSource, log)
}

// buildProgram compiles the one-file Go program source, which imports only
// the standard library, into cacheDir, once per source and flags, and
// returns the binary's path.
func buildProgram(ctx context.Context, cacheDir, name, source string, log *slog.Logger) (string, error) {
	sum := sha256.Sum256([]byte(source + "\x00" + goBuildFlags))
	out := filepath.Join(cacheDir, name+"-"+hex.EncodeToString(sum[:8]))
	if _, err := os.Stat(out); err == nil {
		return out, nil
	}
	src, err := os.MkdirTemp(cacheDir, name+"-src-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(src)
	if err := os.WriteFile(filepath.Join(src, "main.go"), []byte(source), 0o644); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(src, "go.mod"), []byte("module "+name+"\n\ngo 1.22\n"), 0o644); err != nil {
		return "", err
	}
	start := time.Now()
	if err := goBuild(ctx, src, out, ".", goEnv()); err != nil {
		return "", fmt.Errorf("build %s: %w", name, err)
	}
	log.Info("Compiled "+name, "path", out, "duration", time.Since(start).Round(time.Millisecond))
	return out, nil
}

// upstreamBuild is the outcome of buildUpstream.
type upstreamBuild struct {
	binary    string // the static binary
	version   string // the image's own version (test/images/<name>/VERSION)
	moduleDir string // the k8s.io/kubernetes module's source directory
}

// buildAgnhost compiles upstream's agnhost (see buildUpstream).
func buildAgnhost(ctx context.Context, cacheDir, repoDir string, log *slog.Logger) (upstreamBuild, error) {
	return buildUpstream(ctx, cacheDir, repoDir, "agnhost", log)
}

// buildUpstream compiles k8s.io/kubernetes/test/images/<name> at the
// version hack/conformance/go.mod of the repository requires, in a copy of
// that module under cacheDir (building in place would have to add go.sum
// entries to the repository), once per version.
func buildUpstream(ctx context.Context, cacheDir, repoDir, name string, log *slog.Logger) (upstreamBuild, error) {
	confDir := filepath.Join(repoDir, "hack", "conformance")
	gomod, err := os.ReadFile(filepath.Join(confDir, "go.mod"))
	if err != nil {
		return upstreamBuild{}, fmt.Errorf("read conformance module: %w", err)
	}
	m := regexp.MustCompile(`(?m)^\s*(?:require\s+)?k8s\.io/kubernetes\s+(v\S+)`).FindSubmatch(gomod)
	if m == nil {
		return upstreamBuild{}, fmt.Errorf("%s/go.mod requires no k8s.io/kubernetes", confDir)
	}
	k8sVersion := string(m[1])
	gosum, err := os.ReadFile(filepath.Join(confDir, "go.sum"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return upstreamBuild{}, err
	}

	// Test binaries of several packages may build at once; one prepares
	// the module and compiles, the others wait and find its binary.
	unlock, err := lockFile(filepath.Join(cacheDir, "agnhost.lock"))
	if err != nil {
		return upstreamBuild{}, err
	}
	defer unlock()
	// The directory keeps agnhost's name: caches from before other
	// programs were built there stay valid.
	src := filepath.Join(cacheDir, "agnhost-src-"+k8sVersion)
	if err := os.MkdirAll(src, 0o755); err != nil {
		return upstreamBuild{}, err
	}
	if _, err := os.Stat(filepath.Join(src, "go.mod")); errors.Is(err, fs.ErrNotExist) {
		mod := regexp.MustCompile(`(?m)^module\s+\S+`).ReplaceAll(gomod, []byte("module svcnet.test/agnhostbuild"))
		if err := writeFileAtomic(filepath.Join(src, "go.sum"), gosum, 0o644); err != nil {
			return upstreamBuild{}, err
		}
		if err := writeFileAtomic(filepath.Join(src, "go.mod"), mod, 0o644); err != nil {
			return upstreamBuild{}, err
		}
	}
	moduleDir, err := moduleSourceDir(ctx, src, "k8s.io/kubernetes@"+k8sVersion)
	if err != nil {
		return upstreamBuild{}, err
	}
	version, err := os.ReadFile(filepath.Join(moduleDir, "test", "images", name, "VERSION"))
	if err != nil {
		return upstreamBuild{}, fmt.Errorf("%s version: %w", name, err)
	}
	b := upstreamBuild{
		binary:    filepath.Join(cacheDir, name+"-"+k8sVersion),
		version:   strings.TrimSpace(string(version)),
		moduleDir: moduleDir,
	}
	if _, err := os.Stat(b.binary); err == nil {
		return b, nil
	}
	log.Info("Compiling "+name+" from upstream's source", "kubernetes", k8sVersion)
	start := time.Now()
	// -mod=mod: the wrapper module's go.sum lacks the sums of packages only
	// the test images import; the Go module proxy supplies them.
	if err := goBuild(ctx, src, b.binary, "k8s.io/kubernetes/test/images/"+name, goEnv("GOFLAGS=-mod=mod")); err != nil {
		return upstreamBuild{}, fmt.Errorf("build %s: %w", name, err)
	}
	log.Info("Compiled "+name, "version", b.version, "duration", time.Since(start).Round(time.Second))
	return b, nil
}

// goBuild runs `go build` of pkg in dir, writing the binary to out through a
// temporary file so an interrupted build leaves nothing at out.
func goBuild(ctx context.Context, dir, out, pkg string, env []string) error {
	tmp := fmt.Sprintf("%s.tmp%d", out, os.Getpid())
	args := []string{"build", "-trimpath", "-ldflags=-s -w", "-o", tmp, pkg}
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = env
	var stderr bytes.Buffer
	cmd.Stdout = &stderr
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("%w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return os.Rename(tmp, out)
}

// moduleSourceDir downloads module (path@version) through the module cache
// and returns its source directory.
func moduleSourceDir(ctx context.Context, dir, module string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "mod", "download", "-json", module)
	cmd.Dir = dir
	cmd.Env = goEnv()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("download %s: %w: %s", module, err, strings.TrimSpace(stderr.String()))
	}
	var info struct{ Dir, Error string }
	if err := json.Unmarshal(out, &info); err != nil {
		return "", fmt.Errorf("download %s: %w", module, err)
	}
	if info.Error != "" || info.Dir == "" {
		return "", fmt.Errorf("download %s: %s", module, info.Error)
	}
	return info.Dir, nil
}

// lockFile takes an exclusive flock on path (created if missing), waiting
// for another process holding it, and returns its release.
func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() { f.Close() }, nil // closing releases the lock
}

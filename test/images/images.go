// Package testimages builds the container images svcnet's tests run (pause,
// busybox, nginx and optionally agnhost, and the application images of the
// examples/ manifests) from what is installed on the machine, and serves them from an in-process registry, so tests with a real
// container runtime never pull from a public registry.
//
// Build assembles linux/amd64 OCI images: the pause program of this package
// (compiled with `go build`), the host's static busybox, Debian's nginx with
// the shared libraries it links, and agnhost compiled from the
// k8s.io/kubernetes module the conformance wrapper requires, the host's
// curl, and the hostname web server of this package. Each image is
// tagged with every reference tests and examples use for it. Serve pushes
// them to a registry on a loopback address, under their repository path
// without the registry host, which is the layout a containerd mirror for
// registry.k8s.io and docker.io asks for.
package testimages

import (
	"bufio"
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// References of the images Build makes. The e2e tags are those of
// k8s.io/kubernetes v1.36.3 test/utils/image/manifest.go.
const (
	// Pause is the sandbox image the tests configure.
	Pause = "registry.k8s.io/pause:3.10"
	// PauseKubeadm is kubeadm 1.36's pause (and the e2e framework's).
	PauseKubeadm = "registry.k8s.io/pause:3.10.2"
	// PauseContainerd is containerd 1.6's default sandbox_image.
	PauseContainerd = "registry.k8s.io/pause:3.6"

	// Busybox is what `image: busybox` means.
	Busybox = "docker.io/library/busybox:latest"
	// Busybox136 is a pinned busybox tag some manifests use.
	Busybox136 = "docker.io/library/busybox:1.36"
	// BusyboxE2E is the e2e framework's busybox.
	BusyboxE2E = "registry.k8s.io/e2e-test-images/busybox:1.37.0-1"
	// Nginx is what `image: nginx` means.
	Nginx = "docker.io/library/nginx:latest"
	// NginxHTTPS is the HTTPS nginx of examples/12-nginx-secure-app.yaml;
	// the same image, which reads its servers from /etc/nginx/conf.d.
	NginxHTTPS = "docker.io/bprashanth/nginxhttps:1.0"
	// NginxE2E and NginxNewE2E are the e2e framework's nginx images.
	NginxE2E    = "registry.k8s.io/e2e-test-images/nginx:1.15-4"
	NginxNewE2E = "registry.k8s.io/e2e-test-images/nginx:1.27-0"

	// AgnhostRepository is agnhost's repository; Build tags the image with
	// the version of the agnhost it compiles and with AgnhostExamples.
	AgnhostRepository = "registry.k8s.io/e2e-test-images/agnhost"
	// AgnhostExamples is the agnhost the repository's tests and examples name.
	AgnhostExamples = AgnhostRepository + ":2.53"
	// AgnhostPrev is the e2e framework's previous agnhost.
	AgnhostPrev = AgnhostRepository + ":2.55"
	// GlibcDNSTesting is the e2e suite's DNS querier (built with agnhost).
	GlibcDNSTesting = "registry.k8s.io/e2e-test-images/glibc-dns-testing:2.0.0"
	// RegressionIssue74839Repository is the repository of the server of the
	// suite's invalid-conntrack-state spec (built with agnhost, tagged with
	// the version of the source it compiles).
	RegressionIssue74839Repository = "registry.k8s.io/e2e-test-images/regression-issue-74839"
)

// Config says where Build keeps its work and what it builds.
type Config struct {
	// CacheDir holds compiled binaries and compressed layers between runs
	// (created if missing). Required.
	CacheDir string
	// Agnhost also builds agnhost, compiling upstream's source: minutes
	// the first time for each Kubernetes version, cached afterwards.
	Agnhost bool
	// Examples also builds the application images the manifests of
	// examples/ name (see BusyboxPlusCurl and the references after it).
	Examples bool
	// RepoDir is the svcnet checkout whose hack/conformance/go.mod names
	// the k8s.io/kubernetes version of agnhost. Empty: the nearest parent
	// of the working directory holding hack/conformance/go.mod.
	RepoDir string
	// Busybox is a statically linked busybox. Empty: /usr/bin/busybox.
	Busybox string
	// Logger receives progress; nil discards it.
	Logger *slog.Logger
}

// Build makes the test images, keyed by full reference (one image under
// several references). It needs `go` on PATH, the static busybox, and for
// nginx and agnhost the host's nginx, dig, getent and ldd, for Examples curl.
func Build(ctx context.Context, cfg Config) (map[string]v1.Image, error) {
	if cfg.CacheDir == "" {
		return nil, errors.New("testimages: Config.CacheDir is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Busybox == "" {
		cfg.Busybox = "/usr/bin/busybox"
	}
	if err := os.MkdirAll(cfg.CacheDir, 0o755); err != nil {
		return nil, err
	}
	b := &builder{cfg: cfg, log: cfg.Logger}
	start := time.Now()
	imgs := map[string]v1.Image{}
	steps := []buildStep{
		{name: "pause", build: b.pause},
		{name: "busybox", build: b.busybox},
		{name: "nginx", build: b.nginx},
	}
	if cfg.Agnhost {
		steps = append(steps, buildStep{name: "agnhost", build: b.agnhost},
			buildStep{name: "glibc-dns-testing", build: b.glibcDNSTesting},
			buildStep{name: "regression-issue-74839", build: b.regressionIssue74839})
	}
	if cfg.Examples {
		steps = append(steps, b.exampleSteps()...)
	}
	for _, s := range steps {
		img, refs, err := s.build(ctx)
		if err != nil {
			return nil, fmt.Errorf("%s image: %w", s.name, err)
		}
		size, err := imageSize(img)
		if err != nil {
			return nil, fmt.Errorf("%s image: %w", s.name, err)
		}
		b.log.Debug("Built image", "image", s.name, "refs", refs, "compressedBytes", size)
		for _, r := range refs {
			imgs[r] = img
		}
	}
	if err := pruneLayers(cfg.CacheDir); err != nil {
		b.log.Warn("Could not prune the layer cache", "err", err)
	}
	b.log.Info("Built test images", "images", len(imgs), "duration", time.Since(start).Round(time.Millisecond))
	return imgs, nil
}

// buildStep makes one image and names the references it is tagged with.
type buildStep struct {
	name  string
	build func(context.Context) (v1.Image, []string, error)
}

// imageSize is the size of img's manifest, config and compressed layers:
// what a pull transfers.
func imageSize(img v1.Image) (int64, error) {
	m, err := img.Manifest()
	if err != nil {
		return 0, err
	}
	raw, err := img.RawManifest()
	if err != nil {
		return 0, err
	}
	total := int64(len(raw)) + m.Config.Size
	for _, l := range m.Layers {
		total += l.Size
	}
	return total, nil
}

// builder holds what the image steps of one Build share.
type builder struct {
	cfg Config
	log *slog.Logger
	// busyboxLayer is made once and shared by the images built on it.
	busyboxLayer v1.Layer
}

func (b *builder) layer(files map[string]File) (v1.Layer, error) {
	return layer(files, b.cfg.CacheDir)
}

// pause is the sandbox image: the pause program alone, run as 65535 as
// upstream's is.
func (b *builder) pause(ctx context.Context) (v1.Image, []string, error) {
	bin, err := buildPause(ctx, b.cfg.CacheDir, b.log)
	if err != nil {
		return nil, nil, err
	}
	l, err := b.layer(map[string]File{"/pause": {Mode: 0o755, Source: bin}})
	if err != nil {
		return nil, nil, err
	}
	img, err := newImage(v1.Config{
		Entrypoint: []string{"/pause"},
		Env:        []string{defaultPath},
		WorkingDir: "/",
		User:       "65535:65535",
	}, []v1.Layer{l}, []string{"COPY pause /pause"})
	return img, []string{Pause, PauseKubeadm, PauseContainerd}, err
}

// busybox is the host's static busybox with a link for each applet, the
// accounts of baseAccounts and the usual top-level directories.
func (b *builder) busybox(context.Context) (v1.Image, []string, error) {
	l, err := b.busyboxBase()
	if err != nil {
		return nil, nil, err
	}
	img, err := newImage(v1.Config{
		Cmd:        []string{"sh"},
		Env:        []string{defaultPath},
		WorkingDir: "/",
	}, []v1.Layer{l}, []string{"ADD busybox /"})
	return img, []string{Busybox, Busybox136, BusyboxE2E}, err
}

// busyboxBase makes (once) the busybox layer every image but pause starts
// from, so they can use `sh`.
func (b *builder) busyboxBase() (v1.Layer, error) {
	if b.busyboxLayer != nil {
		return b.busyboxLayer, nil
	}
	files, err := busyboxFiles(b.cfg.Busybox)
	if err != nil {
		return nil, err
	}
	l, err := b.layer(files)
	if err != nil {
		return nil, err
	}
	b.busyboxLayer = l
	return l, nil
}

// busyboxFiles lays out a busybox root: /bin/busybox, every applet linked
// both in /bin (as Docker's busybox image) and at its usual place
// (/usr/bin/env, /usr/sbin/httpd, ...), accounts, /tmp, /root, /home.
func busyboxFiles(busybox string) (map[string]File, error) {
	if err := checkStatic(busybox); err != nil {
		return nil, err
	}
	out, err := exec.Command(busybox, "--list-full").Output()
	if err != nil {
		return nil, fmt.Errorf("list busybox applets: %w", err)
	}
	files := map[string]File{
		"/bin/busybox":   {Mode: 0o755, Source: busybox},
		"/tmp":           Dir(0o777 | fs.ModeSticky),
		"/root":          Dir(0o700),
		"/home/user":     {Mode: fs.ModeDir | 0o755, UID: 1000, GID: 1000},
		"/var/tmp":       Dir(0o777 | fs.ModeSticky),
		"/usr/local/bin": Dir(0o755),
		"/etc/hosts":     Text("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n", 0o644),
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		full := strings.TrimSpace(sc.Text())
		name := path.Base(full)
		if !strings.Contains(full, "/") || name == "busybox" {
			continue // linuxrc, and busybox itself
		}
		files["/bin/"+name] = Symlink("busybox")
		if p := "/" + full; path.Dir(p) != "/bin" {
			files[p] = Symlink("/bin/busybox")
		}
	}
	for p, f := range passwdFiles(baseAccounts(), nil) {
		files[p] = f
	}
	// Debian's static busybox lacks the printenv applet that upstream's
	// busybox (and the Debian-based nginx image) have: coreutils' stands in.
	files["/usr/bin/printenv"] = File{Mode: 0o755, Source: "/usr/bin/printenv"}
	if files, err = withLibraries(files, "/usr/bin/printenv"); err != nil {
		return nil, err
	}
	// Debian's static busybox is linked against glibc, which resolves
	// names (wget, ping, nc) by loading the NSS modules at run time: give
	// it them, and the libc they need, or it crashes on a lookup.
	files["/etc/nsswitch.conf"] = Text(nsswitchConf, 0o644)
	for _, m := range []string{"libnss_files.so.2", "libnss_dns.so.2"} {
		lib := filepath.Join("/lib/x86_64-linux-gnu", m)
		if _, err := os.Stat(lib); err != nil {
			return nil, fmt.Errorf("busybox needs glibc's %s (libc6): %w", m, err)
		}
		files[lib] = File{Source: lib}
		if files, err = withLibraries(files, lib); err != nil {
			return nil, err
		}
	}
	return files, nil
}

// checkStatic fails unless bin is an ELF executable without an interpreter,
// one that runs in an image without the host's libraries.
func checkStatic(bin string) error {
	f, err := elf.Open(bin)
	if err != nil {
		return fmt.Errorf("busybox: %w", err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked; a static busybox (Debian's busybox-static) is needed", bin)
		}
	}
	return nil
}

// nginx is busybox plus Debian's nginx with its libraries, configured as
// the nginx library image: welcome page on port 80, servers from
// /etc/nginx/conf.d, logs on stdout and stderr, in the foreground.
func (b *builder) nginx(context.Context) (v1.Image, []string, error) {
	base, err := b.busyboxBase()
	if err != nil {
		return nil, nil, err
	}
	const nginxBin = "/usr/sbin/nginx"
	files, err := withLibraries(map[string]File{nginxBin: {Mode: 0o755, Source: nginxBin}}, nginxBin)
	if err != nil {
		return nil, nil, err
	}
	const nginxID = 101
	for p, f := range map[string]File{
		"/etc/nginx/nginx.conf":            Text(nginxConf, 0o644),
		"/etc/nginx/mime.types":            Text(nginxMimeTypes, 0o644),
		"/etc/nginx/conf.d/default.conf":   Text(nginxDefaultServer, 0o644),
		"/etc/nsswitch.conf":               Text(nsswitchConf, 0o644),
		"/usr/share/nginx/html/index.html": Text(nginxIndex, 0o644),
		"/usr/share/nginx/html/50x.html":   Text(nginx50x, 0o644),
		"/var/log/nginx/access.log":        Symlink("/dev/stdout"),
		"/var/log/nginx/error.log":         Symlink("/dev/stderr"),
		"/var/lib/nginx":                   Dir(0o755),
		"/var/cache/nginx":                 Dir(0o755),
		"/run":                             Dir(0o755),
	} {
		files[p] = f
	}
	// Debian's nginx keeps request bodies and proxied responses here; the
	// workers (user nginx) write them.
	for _, d := range []string{"body", "proxy", "fastcgi", "uwsgi", "scgi"} {
		files["/var/lib/nginx/"+d] = File{Mode: fs.ModeDir | 0o700, UID: nginxID, GID: nginxID}
	}
	users := append(baseAccounts(), account{name: "nginx", id: nginxID, home: "/nonexistent", shell: "/bin/false"})
	for p, f := range passwdFiles(users, nil) {
		files[p] = f
	}
	l, err := b.layer(files)
	if err != nil {
		return nil, nil, err
	}
	img, err := newImage(v1.Config{
		Cmd:          []string{"nginx", "-g", "daemon off;"},
		Env:          []string{defaultPath},
		WorkingDir:   "/",
		ExposedPorts: map[string]struct{}{"80/tcp": {}},
		StopSignal:   "SIGQUIT",
	}, []v1.Layer{base, l}, []string{"ADD busybox /", "ADD nginx /"})
	return img, []string{Nginx, NginxHTTPS, NginxE2E, NginxNewE2E}, err
}

// agnhost is busybox plus agnhost at /agnhost, the host's dig, getent, curl,
// nc (OpenBSD's), ip and bash with their libraries (the tools upstream's image
// installs), porter's certificate and the account and group upstream's
// image defines; entrypoint and command are upstream's.
func (b *builder) agnhost(ctx context.Context) (v1.Image, []string, error) {
	repo, err := b.repo()
	if err != nil {
		return nil, nil, err
	}
	build, err := buildAgnhost(ctx, b.cfg.CacheDir, repo, b.log)
	if err != nil {
		return nil, nil, err
	}
	base, err := b.busyboxBase()
	if err != nil {
		return nil, nil, err
	}
	porter := filepath.Join(build.moduleDir, "test", "images", "agnhost", "porter")
	files := map[string]File{
		"/agnhost":       {Mode: 0o755, Source: build.binary},
		"/agnhost-2":     Symlink("agnhost"),
		"/uploads":       Dir(0o755),
		"/localhost.crt": {Mode: 0o644, Source: filepath.Join(porter, "localhost.crt")},
		"/localhost.key": {Mode: 0o644, Source: filepath.Join(porter, "localhost.key")},
	}
	if err := addDNSTools(files); err != nil {
		return nil, nil, fmt.Errorf("agnhost: %w", err)
	}
	if err := addHostTools(files, agnhostTools); err != nil {
		return nil, nil, fmt.Errorf("agnhost: %w", err)
	}
	// Debian's static busybox runs its own applets before PATH (a
	// standalone shell): with it as /bin/sh, `sh -c 'nc -u ...'` would get
	// busybox's nc, which has no -u. bash finds the image's tools.
	files["/bin/sh"] = Symlink("/usr/bin/bash")
	users := append(baseAccounts()[:2], account{name: "user-defined-in-image", id: 1000, home: "/home/user-defined-in-image", shell: "/bin/sh"})
	groups := []group{{name: "group-defined-in-image", id: 50000, members: []string{"user-defined-in-image"}}}
	for p, f := range passwdFiles(users, groups) {
		files[p] = f
	}
	l, err := b.layer(files)
	if err != nil {
		return nil, nil, err
	}
	ports := map[string]struct{}{}
	for _, p := range []string{"80", "8080", "8081", "9376", "5000"} {
		ports[p+"/tcp"] = struct{}{}
	}
	img, err := newImage(v1.Config{
		Entrypoint:   []string{"/agnhost"},
		Cmd:          []string{"pause"},
		Env:          []string{defaultPath},
		WorkingDir:   "/",
		ExposedPorts: ports,
	}, []v1.Layer{base, l}, []string{"ADD busybox /", "ADD agnhost /"})
	return img, []string{AgnhostRepository + ":" + build.version, AgnhostExamples, AgnhostPrev}, err
}

// addDNSTools adds the host's dig, nslookup (BIND's, as upstream's images
// have from bind-tools or dnsutils, rather than busybox's, which queries every
// search domain and fails if one has no answer) and getent, their libraries
// and an nsswitch.conf to files.
func addDNSTools(files map[string]File) error {
	files["/etc/nsswitch.conf"] = Text(nsswitchConf, 0o644)
	return addHostTools(files, map[string]string{"dig": "dnsutils", "nslookup": "dnsutils", "getent": "libc-bin"})
}

// agnhostTools are the programs upstream's agnhost image installs beside
// agnhost (bind-tools, curl, netcat-openbsd, iproute2, bash), which the
// e2e specs run in its containers, by the Debian package that has them.
// wget is GNU's: Debian 12's busybox is built without wget's -T (timeout),
// which the suite's Service checks pass and which then crashes it
// (SIGSEGV), while upstream's Alpine busybox honours it.
var agnhostTools = map[string]string{"curl": "curl", "nc": "netcat-openbsd", "ip": "iproute2", "bash": "bash", "wget": "wget"}

// addHostTools adds the host's programs (name -> the Debian package that
// has it, for the error) at /usr/bin, with their libraries.
func addHostTools(files map[string]File, tools map[string]string) error {
	for tool, pkg := range tools {
		p, err := exec.LookPath(tool)
		if err != nil {
			return fmt.Errorf("%s needed (Debian package %s): %w", tool, pkg, err)
		}
		if p, err = filepath.EvalSymlinks(p); err != nil {
			return err
		}
		files["/usr/bin/"+tool] = File{Mode: 0o755, Source: p}
		if _, err = withLibraries(files, p); err != nil {
			return err
		}
	}
	return nil
}

// glibcDNSTesting is the e2e suite's DNS querier image: busybox's shell and
// tools with glibc's getent and dig, as upstream's Debian-based one has.
func (b *builder) glibcDNSTesting(context.Context) (v1.Image, []string, error) {
	base, err := b.busyboxBase()
	if err != nil {
		return nil, nil, err
	}
	files := map[string]File{}
	if err := addDNSTools(files); err != nil {
		return nil, nil, fmt.Errorf("glibc-dns-testing: %w", err)
	}
	l, err := b.layer(files)
	if err != nil {
		return nil, nil, err
	}
	img, err := newImage(v1.Config{Cmd: []string{"sh"}, Env: []string{defaultPath}, WorkingDir: "/"},
		[]v1.Layer{base, l}, []string{"ADD busybox /", "ADD dnsutils /"})
	return img, []string{GlibcDNSTesting}, err
}

// regressionIssue74839 is upstream's boom-server: it answers TCP
// connections on port 9000 and, through a raw socket, injects a segment
// outside the window into each, logging "ERROR" if the client resets the
// connection. Upstream builds it on a Debian base; the static binary needs
// none, so it goes on the busybox base.
func (b *builder) regressionIssue74839(ctx context.Context) (v1.Image, []string, error) {
	repo, err := b.repo()
	if err != nil {
		return nil, nil, err
	}
	build, err := buildUpstream(ctx, b.cfg.CacheDir, repo, "regression-issue-74839", b.log)
	if err != nil {
		return nil, nil, err
	}
	base, err := b.busyboxBase()
	if err != nil {
		return nil, nil, err
	}
	l, err := b.layer(map[string]File{"/regression-issue-74839": {Mode: 0o755, Source: build.binary}})
	if err != nil {
		return nil, nil, err
	}
	img, err := newImage(v1.Config{
		Entrypoint: []string{"/regression-issue-74839"},
		Env:        []string{defaultPath},
		WorkingDir: "/",
	}, []v1.Layer{base, l}, []string{"ADD busybox /", "ADD regression-issue-74839 /regression-issue-74839"})
	return img, []string{RegressionIssue74839Repository + ":" + build.version}, err
}

// repo is the svcnet checkout whose hack/conformance/go.mod names the
// k8s.io/kubernetes version of the images built from upstream's source.
func (b *builder) repo() (string, error) {
	if b.cfg.RepoDir != "" {
		return b.cfg.RepoDir, nil
	}
	return findRepo()
}

// findRepo walks up from the working directory to the svcnet checkout,
// recognised by hack/conformance/go.mod.
func findRepo() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "hack", "conformance", "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no svcnet checkout (hack/conformance/go.mod) above the working directory; set Config.RepoDir")
		}
		dir = parent
	}
}

package testimages

import (
	"archive/tar"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// TestImagesRun unpacks the images and runs their programs chrooted into
// them (no namespaces, no network: only the file system is the image's),
// which proves each carries the libraries and files its programs need.
func TestImagesRun(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("chroot needs root")
	}
	for _, need := range []string{"go", "ldd", "chroot", "curl", "/usr/bin/busybox", "/usr/sbin/nginx"} {
		if _, err := exec.LookPath(need); err != nil {
			t.Skipf("needs %s: %v", need, err)
		}
	}
	agnhost := os.Getenv("SVCNET_TEST_AGNHOST") == "1"
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	imgs, err := Build(ctx, Config{CacheDir: testCacheDir(t), Agnhost: agnhost, Examples: true})
	if err != nil {
		t.Fatal(err)
	}
	type runCase struct {
		name string
		ref  string
		cmd  []string
		want string // part of the output
	}
	tests := []runCase{
		{name: "busybox id", ref: Busybox, cmd: []string{"/bin/sh", "-c", "id nobody; id -u user"}, want: "uid=65534(nobody) gid=65534(nobody)"},
		{name: "busybox env", ref: Busybox, cmd: []string{"/usr/bin/env", "echo", "hi"}, want: "hi\n"},
		{name: "busybox printenv", ref: Busybox, cmd: []string{"printenv", "PATH"}, want: "/usr/bin"},
		{name: "pause version", ref: Pause, cmd: []string{"/pause", "-v"}, want: "pause"},
		{name: "nginx config test", ref: Nginx, cmd: []string{"/usr/sbin/nginx", "-t"}, want: "test is successful"},
		{name: "nginx sh", ref: Nginx, cmd: []string{"sh", "-c", "cat /usr/share/nginx/html/index.html"}, want: "Welcome to nginx!"},
		{name: "busyboxplus curl", ref: BusyboxPlusCurl, cmd: []string{"curl", "--version"}, want: "curl "},
		{name: "busyboxplus sh", ref: BusyboxPlusCurl, cmd: []string{"/bin/sh", "-c", "ls -l /bin/sh"}, want: "busybox"},
		{name: "serve-hostname", ref: Whoami, cmd: []string{serveHostnamePath, "-h"}, want: "-port"},
	}
	if agnhost {
		tests = append(tests, []runCase{
			{name: "agnhost", ref: AgnhostExamples, cmd: []string{"/agnhost", "--help"}, want: "netexec"},
			{name: "dig", ref: AgnhostExamples, cmd: []string{"/usr/bin/dig", "-v"}, want: "DiG"},
			{name: "nslookup", ref: AgnhostExamples, cmd: []string{"nslookup", "-version"}, want: "nslookup"},
			{name: "getent", ref: AgnhostExamples, cmd: []string{"/usr/bin/getent", "group", "50000"}, want: "group-defined-in-image"},
			// The suite's Service checks run `wget -q -O - -T 1 URL`: the
			// timeout flag must work (a refused connection, exit status 4).
			{name: "wget timeout", ref: AgnhostExamples, cmd: []string{"sh", "-c", "wget -q -O - -T 1 http://127.0.0.1:1/; echo status $?"},
				want: "status 4"},
		}...)
	}
	roots := map[string]string{}
	tmp := t.TempDir()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root, ok := roots[tc.ref]
			if !ok {
				root = filepath.Join(tmp, strings.NewReplacer("/", "_", ":", "_").Replace(tc.ref))
				extract(t, imgs[tc.ref], root)
				// nginx opens /dev/stdout for its access log; there is no
				// /dev in a bare chroot, so it gets a plain file.
				if err := os.MkdirAll(filepath.Join(root, "dev"), 0o755); err != nil {
					t.Fatal(err)
				}
				roots[tc.ref] = root
			}
			args := append([]string{root}, tc.cmd...)
			cmd := exec.CommandContext(ctx, "chroot", args...)
			cmd.Env = []string{defaultPath}
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%v: %v\n%s", tc.cmd, err, out)
			}
			if !strings.Contains(string(out), tc.want) {
				t.Errorf("%v: got %q, want it to contain %q", tc.cmd, out, tc.want)
			}
		})
	}
}

// extract writes img's flattened file system under dir.
func extract(t *testing.T, img v1.Image, dir string) {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, filepath.Clean("/"+h.Name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		switch h.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(p, os.FileMode(h.Mode).Perm())
		case tar.TypeSymlink:
			err = os.Symlink(h.Linkname, p)
		case tar.TypeReg:
			var f *os.File
			if f, err = os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, os.FileMode(h.Mode).Perm()); err == nil {
				_, err = io.Copy(f, tr)
				if cerr := f.Close(); err == nil {
					err = cerr
				}
			}
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

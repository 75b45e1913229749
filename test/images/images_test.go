package testimages

import (
	"archive/tar"
	"context"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

func TestParseLdd(t *testing.T) {
	tests := []struct {
		name    string
		out     string
		want    []string
		wantErr bool
	}{
		{
			name: "dynamic",
			out: "\tlinux-vdso.so.1 (0x00007ffd)\n" +
				"\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f6b)\n" +
				"\t/lib64/ld-linux-x86-64.so.2 (0x00007f6c)\n",
			want: []string{"/lib/x86_64-linux-gnu/libc.so.6", "/lib64/ld-linux-x86-64.so.2"},
		},
		{name: "static", out: "\tstatically linked\n"},
		{name: "missing", out: "\tlibfoo.so.1 => not found\n", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseLdd([]byte(tc.out))
			if (err != nil) != tc.wantErr {
				t.Fatalf("got err %v, want error %v", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("libraries (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMirrorReference(t *testing.T) {
	const digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	tests := []struct{ ref, want string }{
		{ref: "registry.k8s.io/pause:3.10", want: "127.0.0.1:5000/pause:3.10"},
		{ref: "docker.io/library/nginx:latest", want: "127.0.0.1:5000/library/nginx:latest"},
		{ref: "nginx", want: "127.0.0.1:5000/library/nginx:latest"},
		{ref: "bprashanth/nginxhttps:1.0", want: "127.0.0.1:5000/bprashanth/nginxhttps:1.0"},
		{ref: "registry.k8s.io/e2e-test-images/agnhost:2.53", want: "127.0.0.1:5000/e2e-test-images/agnhost:2.53"},
		{ref: "quay.io/a/b@" + digest, want: "127.0.0.1:5000/a/b@" + digest},
	}
	for _, tc := range tests {
		t.Run(tc.ref, func(t *testing.T) {
			got, err := MirrorReference("127.0.0.1:5000", tc.ref)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

// entry is what a test checks of one file in an image.
type entry struct {
	Type     byte
	Mode     int64
	Linkname string
	UID      int
	Contains string
}

func TestFromFiles(t *testing.T) {
	img, err := FromFiles(nil, map[string]File{
		"/a/b/c.txt": Text("hello", 0o600),
		"/tmp":       Dir(0o777 | fs.ModeSticky),
		"/a/link":    Symlink("b/c.txt"),
		"/home/u":    {Mode: fs.ModeDir | 0o750, UID: 1000, GID: 1000},
	}, &v1.Config{Cmd: []string{"cat", "/a/b/c.txt"}})
	if err != nil {
		t.Fatal(err)
	}
	got := imageEntries(t, img)
	want := map[string]entry{
		"a":         {Type: tar.TypeDir, Mode: 0o755},
		"a/b":       {Type: tar.TypeDir, Mode: 0o755},
		"a/b/c.txt": {Type: tar.TypeReg, Mode: 0o600, Contains: "hello"},
		"a/link":    {Type: tar.TypeSymlink, Mode: 0o777, Linkname: "b/c.txt"},
		"home":      {Type: tar.TypeDir, Mode: 0o755},
		"home/u":    {Type: tar.TypeDir, Mode: 0o750, UID: 1000},
		"tmp":       {Type: tar.TypeDir, Mode: 0o1777},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("entries (-want +got):\n%s", diff)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.OS != "linux" || cf.Architecture != "amd64" {
		t.Errorf("got platform %s/%s, want linux/amd64", cf.OS, cf.Architecture)
	}
	if diff := cmp.Diff([]string{"cat", "/a/b/c.txt"}, cf.Config.Cmd); diff != "" {
		t.Errorf("cmd (-want +got):\n%s", diff)
	}

	// The same files give the same image.
	again, err := FromFiles(nil, map[string]File{
		"/home/u":    {Mode: fs.ModeDir | 0o750, UID: 1000, GID: 1000},
		"/a/link":    Symlink("b/c.txt"),
		"/tmp":       Dir(0o777 | fs.ModeSticky),
		"/a/b/c.txt": Text("hello", 0o600),
	}, &v1.Config{Cmd: []string{"cat", "/a/b/c.txt"}})
	if err != nil {
		t.Fatal(err)
	}
	d1, _ := img.Digest()
	d2, _ := again.Digest()
	if d1 != d2 {
		t.Errorf("got digests %s and %s for the same files, want equal", d1, d2)
	}
}

// imageEntries reads the flattened file system of img; Contains holds a
// regular file's contents when shorter than 64 bytes.
func imageEntries(t *testing.T, img v1.Image) map[string]entry {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	got := map[string]entry{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		e := entry{Type: h.Typeflag, Mode: h.Mode, Linkname: h.Linkname, UID: h.Uid}
		if h.Typeflag == tar.TypeReg && h.Size < 64 {
			data, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			e.Contains = string(data)
		}
		got[h.Name] = e
	}
	return got
}

// testCacheDir is where the tests keep built binaries and layers between
// runs, so only the first run compiles.
func testCacheDir(t *testing.T) string {
	t.Helper()
	dir, err := os.UserCacheDir()
	if err != nil {
		return t.TempDir()
	}
	return filepath.Join(dir, "svcnet", "test-images")
}

func TestBuild(t *testing.T) {
	for _, need := range []string{"go", "ldd", "curl", "/usr/bin/busybox", "/usr/sbin/nginx"} {
		if _, err := exec.LookPath(need); err != nil {
			t.Skipf("needs %s: %v", need, err)
		}
	}
	agnhost := os.Getenv("SVCNET_TEST_AGNHOST") == "1"
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	start := time.Now()
	imgs, err := Build(ctx, Config{
		CacheDir: testCacheDir(t),
		Agnhost:  agnhost,
		Examples: true,
		Logger:   slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Build took %v", time.Since(start))

	type buildCase struct {
		ref   string
		files map[string]string // path in the image: a part of its contents, or "" for any
		cmd   []string
		entry []string
	}
	tests := []buildCase{
		{
			ref:   Pause,
			files: map[string]string{"pause": ""},
			entry: []string{"/pause"},
		},
		{ref: PauseContainerd, entry: []string{"/pause"}},
		{
			ref: Busybox,
			files: map[string]string{
				"bin/busybox": "", "bin/sh": "", "bin/wget": "", "usr/bin/env": "",
				"etc/passwd": "nobody:x:65534:65534:", "etc/group": "user:x:1000:",
			},
			cmd: []string{"sh"},
		},
		{ref: BusyboxE2E, cmd: []string{"sh"}},
		{
			ref: Nginx,
			files: map[string]string{
				"usr/sbin/nginx": "", "bin/sh": "", "lib64/ld-linux-x86-64.so.2": "",
				"lib/x86_64-linux-gnu/libc.so.6":  "",
				"etc/nginx/nginx.conf":            "include /etc/nginx/conf.d/*.conf;",
				"etc/nginx/conf.d/default.conf":   "listen 80;",
				"usr/share/nginx/html/index.html": "<title>Welcome to nginx!</title>",
				"etc/passwd":                      "nginx:x:101:101:",
			},
			cmd: []string{"nginx", "-g", "daemon off;"},
		},
		{ref: NginxHTTPS, cmd: []string{"nginx", "-g", "daemon off;"}},
		{ref: NginxNewE2E, cmd: []string{"nginx", "-g", "daemon off;"}},
		{
			ref:   BusyboxPlusCurl,
			files: map[string]string{"usr/bin/curl": "", "bin/sh": "", "etc/nsswitch.conf": "hosts:"},
			cmd:   []string{"/bin/sh"},
		},
		{ref: K8sBook, files: map[string]string{"usr/local/bin/serve-hostname": ""}, cmd: []string{serveHostnamePath, "-port=8080"}},
		{ref: Whoami, cmd: []string{serveHostnamePath, "-port=8080,8443"}},
		{ref: Biz1V41, cmd: []string{serveHostnamePath, "-port=8080", "-version=4.1"}},
		{ref: Biz1V42, cmd: []string{serveHostnamePath, "-port=8080", "-version=4.2"}},
	}
	if agnhost {
		tests = append(tests, buildCase{
			ref: AgnhostExamples,
			files: map[string]string{
				"agnhost": "", "agnhost-2": "", "usr/bin/dig": "", "usr/bin/getent": "", "bin/sh": "", "usr/bin/wget": "",
				"localhost.crt": "BEGIN CERTIFICATE", "etc/group": "group-defined-in-image:x:50000:user-defined-in-image",
			},
			cmd:   []string{"pause"},
			entry: []string{"/agnhost"},
		}, buildCase{
			ref:   RegressionIssue74839Repository + ":1.4",
			files: map[string]string{"regression-issue-74839": ""},
			entry: []string{"/regression-issue-74839"},
		})
	}
	for _, tc := range tests {
		t.Run(tc.ref, func(t *testing.T) {
			img, ok := imgs[tc.ref]
			if !ok {
				t.Fatalf("no image %s", tc.ref)
			}
			cf, err := img.ConfigFile()
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.cmd, cf.Config.Cmd); diff != "" {
				t.Errorf("cmd (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.entry, cf.Config.Entrypoint); diff != "" {
				t.Errorf("entrypoint (-want +got):\n%s", diff)
			}
			if len(tc.files) == 0 {
				return
			}
			got := imageContents(t, img, tc.files)
			for p, want := range tc.files {
				c, ok := got[p]
				if !ok {
					t.Errorf("no %s in the image", p)
					continue
				}
				if !strings.Contains(c, want) {
					t.Errorf("%s: got %q, want it to contain %q", p, c, want)
				}
			}
		})
	}
}

// imageContents returns the entries of img named in paths, with the
// contents of regular files among them (a symlink's target otherwise).
func imageContents(t *testing.T, img v1.Image, paths map[string]string) map[string]string {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	got := map[string]string{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return got
		}
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := paths[h.Name]; !ok {
			continue
		}
		if h.Typeflag != tar.TypeReg {
			got[h.Name] = h.Linkname
			continue
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		got[h.Name] = string(data)
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// testWriter sends log lines to t.Log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

package runtime

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestContainerMounts(t *testing.T) {
	requireRoot(t)
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "tls.crt"), []byte("CERT"), 0o644); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(t.TempDir(), "default.conf")
	if err := os.WriteFile(conf, []byte("server {}"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A directory that does not exist on the host, under /etc.
	top := fmt.Sprintf("/etc/svcnet-mounts-test-%d", time.Now().UnixNano())
	r, ctx := newRuntime(t, false)
	spec := sandboxSpec(t, "c")
	spec.Mounts = []Mount{
		{Source: conf, Target: top + "/conf.d/default.conf"},
		{Source: src, Target: top + "/ssl", ReadOnly: true},
	}
	script := strings.Join([]string{
		"cat " + top + "/ssl/tls.crt; echo",
		"cat " + top + "/conf.d/default.conf; echo",
		"touch " + top + "/ssl/new && echo ro-failed",
		"echo written > " + top + "/conf.d/default.conf",
		// The host's entries of the shadowed /etc are still there.
		"test -s /etc/passwd && echo passwd-ok",
		"cat /etc/resolv.conf",
	}, "; ")
	out, code, err := r.Exec(ctx, spec, []string{"sh", "-c", script})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"CERT\n", "server {}\n", "passwd-ok\n", "nameserver 10.96.0.10"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output %q (exit %d) lacks %q", out, code, want)
		}
	}
	if strings.Contains(string(out), "ro-failed") {
		t.Errorf("a read-only mount was writable: %q", out)
	}
	if b, _ := os.ReadFile(conf); string(b) != "written\n" {
		t.Errorf("writable file mount: host file got %q, want the container's write", b)
	}
	if _, err := os.Lstat(top); !os.IsNotExist(err) {
		t.Errorf("%s was created on the host (err %v)", top, err)
		_ = os.RemoveAll(top)
	}
	if _, err := os.Lstat(filepath.Join(src, "new")); !os.IsNotExist(err) {
		t.Errorf("write through the read-only mount reached the host")
	}

	t.Run("mountPath directly under the root", func(t *testing.T) {
		top := fmt.Sprintf("/svcnet-mounts-test-%d", time.Now().UnixNano())
		spec := sandboxSpec(t, "c")
		spec.Dir = src
		spec.Mounts = []Mount{{Source: src, Target: top + "/data"}, {Source: src, Target: top + "/etc/ssl", ReadOnly: true}}
		script := "pwd; cat " + top + "/data/tls.crt; echo; cat " + top + "/etc/ssl/tls.crt; echo; test -s /etc/passwd && echo passwd-ok; cat /etc/resolv.conf"
		out, code, err := r.Exec(ctx, spec, []string{"sh", "-c", script})
		if err != nil || code != 0 {
			t.Fatalf("got (%q, %d, %v), want success", out, code, err)
		}
		// The working directory (under /tmp, the stage) survives the new root.
		want := src + "\nCERT\nCERT\npasswd-ok\nnameserver 10.96.0.10\n"
		if string(out) != want {
			t.Errorf("got %q, want %q", out, want)
		}
		if _, err := os.Lstat(top); !os.IsNotExist(err) {
			t.Errorf("%s was created on the host (err %v)", top, err)
			_ = os.RemoveAll(top)
		}
	})
}

package images

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"testing"

	v1 "k8s.io/api/core/v1"
)

func TestWebserverServesOnlyVolumes(t *testing.T) {
	vol := t.TempDir()
	outside := t.TempDir()
	for p, content := range map[string]string{filepath.Join(vol, "results", "ok"): "OK", filepath.Join(outside, "secret"): "host"} {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(filepath.Join(outside, "secret"), filepath.Join(vol, "escape")); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(webserverHandler([]string{vol}))
	defer srv.Close()
	tests := []struct {
		path string
		want int
	}{
		{vol + "/results/ok", http.StatusOK},
		{outside + "/secret", http.StatusNotFound},
		{vol + "/escape", http.StatusNotFound}, // a symlink out of the volume
		{vol + "/../" + filepath.Base(outside) + "/secret", http.StatusNotFound},
		{"/etc/passwd", http.StatusNotFound},
	}
	for _, tc := range tests {
		resp, err := http.Get(srv.URL + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("GET %s: got %d, want %d", tc.path, resp.StatusCode, tc.want)
		}
	}
}

func TestAgnhostVolumesAndExec(t *testing.T) {
	self := []string{"/svcnet"}
	c := &v1.Container{Image: agnhostImage + ":2.53", Args: []string{"test-webserver"}, VolumeMounts: []v1.VolumeMount{
		{Name: "results", MountPath: "/results"}, {Name: "kube-api-access-x", MountPath: serviceAccountDir}}}
	if got, want := Argv(c, self), []string{"/svcnet", "agnhost", "test-webserver", "--serve-dir=/results"}; !slices.Equal(got, want) {
		t.Errorf("Argv: got %v, want %v", got, want)
	}
	tests := []struct {
		image   string
		command []string
		want    []string
	}{
		{agnhostImage + ":2.53", []string{"/agnhost", "dns-suffix"}, []string{"/svcnet", "agnhost", "dns-suffix"}},
		{agnhostImage + ":2.53", []string{"cat", "/etc/resolv.conf"}, []string{"cat", "/etc/resolv.conf"}},
		{"busybox", []string{"/agnhost", "dns-suffix"}, []string{"/agnhost", "dns-suffix"}},
	}
	for _, tc := range tests {
		if got := ExecArgv(tc.image, tc.command, self); !slices.Equal(got, tc.want) {
			t.Errorf("ExecArgv(%s, %v): got %v, want %v", tc.image, tc.command, got, tc.want)
		}
	}
}

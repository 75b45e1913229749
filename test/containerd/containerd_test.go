package ctrdtest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	testimages "github.com/svcnet/svcnet/test/images"
)

func TestConfigTOML(t *testing.T) {
	got := configTOML(Config{
		Dir:          "/tmp/ctrd1",
		RegistryAddr: "127.0.0.1:5000",
		CNIBinDir:    "/usr/lib/cni",
		CNIConfDir:   "/tmp/ctrd1/cni",
		SandboxImage: "registry.k8s.io/pause:3.10",
		Snapshotter:  "overlayfs",
	})
	for _, want := range []string{
		`version = 2`,
		`root = "/tmp/ctrd1/root"`,
		`state = "/tmp/ctrd1/state"`,
		"[grpc]\n  address = \"/tmp/ctrd1/containerd.sock\"",
		`sandbox_image = "registry.k8s.io/pause:3.10"`,
		`bin_dir = "/usr/lib/cni"`,
		`conf_dir = "/tmp/ctrd1/cni"`,
		"[plugins.\"io.containerd.grpc.v1.cri\".registry.mirrors.\"docker.io\"]\n      endpoint = [\"http://127.0.0.1:5000\"]",
		"[plugins.\"io.containerd.grpc.v1.cri\".registry.mirrors.\"registry.k8s.io\"]\n      endpoint = [\"http://127.0.0.1:5000\"]",
		"[plugins.\"io.containerd.grpc.v1.cri\".registry.mirrors.\"127.0.0.1:5000\"]\n      endpoint = [\"http://127.0.0.1:5000\"]",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("config lacks %q:\n%s", want, got)
		}
	}
}

func TestUnescapeMountPath(t *testing.T) {
	tests := []struct{ in, want string }{
		{in: "/a/b", want: "/a/b"},
		{in: `/a\040b`, want: "/a b"},
		{in: `/a\134b`, want: `/a\b`},
		{in: `/a\04`, want: `/a\04`},
	}
	for _, tc := range tests {
		if got := unescapeMountPath(tc.in); got != tc.want {
			t.Errorf("unescapeMountPath(%q): got %q, want %q", tc.in, got, tc.want)
		}
	}
}

// env is a registry with the test images and a containerd mirroring the
// public registries to it.
type env struct {
	dir      string
	registry *testimages.Registry
	ctrd     *Containerd
	images   runtimeapi.ImageServiceClient
	runtime  runtimeapi.RuntimeServiceClient
}

// setup builds the images, serves them on loopback and starts containerd,
// or skips the test where that cannot or must not happen. prepare, if
// given, runs on containerd's directory before it starts.
func setup(t *testing.T, ctx context.Context, prepare ...func(dir string) error) *env {
	t.Helper()
	if os.Getenv("SVCNET_IN_NETNS") != "1" {
		t.Skip("starts containerd and a registry: run inside a network namespace (hack/netns-run.sh go test ./test/containerd/...)")
	}
	if err := Available(); err != nil {
		t.Skip(err)
	}
	log := slog.New(slog.NewTextHandler(testWriter{t}, nil))
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = t.TempDir()
	}
	imgs, err := testimages.Build(ctx, testimages.Config{CacheDir: filepath.Join(cache, "svcnet", "test-images"), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	reg, err := testimages.Serve(ctx, "127.0.0.1:0", imgs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })

	dir := TempDir(t)
	if err := os.MkdirAll(filepath.Join(dir, "cni"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, p := range prepare {
		if err := p(dir); err != nil {
			t.Fatal(err)
		}
	}
	ctrd, err := Start(ctx, Config{Dir: dir, RegistryAddr: reg.Addr(), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := ctrd.Stop(); err != nil {
			t.Errorf("stop containerd: %v", err)
		}
		if t.Failed() || os.Getenv("CTRD_LOG") == "1" {
			t.Logf("containerd log:\n%s", tail(ctrd.LogPath()))
		}
	})
	conn, err := ctrd.Dial()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &env{
		dir:      dir,
		registry: reg,
		ctrd:     ctrd,
		images:   runtimeapi.NewImageServiceClient(conn),
		runtime:  runtimeapi.NewRuntimeServiceClient(conn),
	}
}

// TestPull pulls test images through containerd's CRI image service, by the
// references pods use, and finds them in its image store.
func TestPull(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	e := setup(t, ctx)

	custom, err := testimages.FromFiles(nil, map[string]testimages.File{
		"/unique.txt": testimages.Text(t.Name()+"\n", 0o644),
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	customRef := fmt.Sprintf("docker.io/svcnet/custom:%d", time.Now().UnixNano())
	if err := e.registry.Push(ctx, customRef, custom); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		pull    string // what a pod spec names
		wantTag string // the tag containerd records
	}{
		{name: "busybox", pull: "docker.io/library/busybox:latest", wantTag: testimages.Busybox},
		{name: "short name", pull: "nginx", wantTag: testimages.Nginx},
		{name: "docker hub user", pull: "bprashanth/nginxhttps:1.0", wantTag: testimages.NginxHTTPS},
		{name: "pause", pull: testimages.Pause, wantTag: testimages.Pause},
		{name: "e2e busybox", pull: testimages.BusyboxE2E, wantTag: testimages.BusyboxE2E},
		{name: "pushed by the test", pull: customRef, wantTag: customRef},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			spec := &runtimeapi.ImageSpec{Image: tc.pull}
			resp, err := e.images.PullImage(ctx, &runtimeapi.PullImageRequest{Image: spec})
			if err != nil {
				t.Fatalf("pull %s: %v", tc.pull, err)
			}
			st, err := e.images.ImageStatus(ctx, &runtimeapi.ImageStatusRequest{Image: spec})
			if err != nil {
				t.Fatalf("image status %s: %v", tc.pull, err)
			}
			if st.Image == nil {
				t.Fatalf("image %s not present after pull", tc.pull)
			}
			if st.Image.Id != resp.ImageRef {
				t.Errorf("got image id %s, want the pulled %s", st.Image.Id, resp.ImageRef)
			}
			if !slices.Contains(st.Image.RepoTags, tc.wantTag) {
				t.Errorf("got tags %v, want %s among them", st.Image.RepoTags, tc.wantTag)
			}
			if st.Image.GetSize() == 0 {
				t.Errorf("got size 0 for %s", tc.pull)
			}
		})
	}

	t.Run("missing image", func(t *testing.T) {
		_, err := e.images.PullImage(ctx, &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: "docker.io/library/no-such-image:1"}})
		if err == nil {
			t.Fatal("pulled an image the registry does not have")
		}
	})
}

// testWriter sends log lines to t.Log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// bridgeConf is a CNI network for the test's pods: a bridge in the test's
// own network namespace, addresses kept under the test's directory.
const bridgeConf = `{
  "cniVersion": "1.0.0",
  "name": "ctrdtest",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "ctrd0",
      "isGateway": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{"subnet": "10.89.0.0/24"}]],
        "dataDir": %q
      }
    },
    {"type": "loopback"}
  ]
}
`

// TestRunPod runs a pod of the built images under containerd: the pause
// sandbox, nginx serving its welcome page on the pod IP, and busybox
// answering an exec.
func TestRunPod(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	// The bridge plugin leaves its bridge behind; later tests in this
	// namespace should not find it. Registered first, so it runs after
	// containerd has stopped.
	t.Cleanup(func() {
		if l, err := netlink.LinkByName("ctrd0"); err == nil {
			if err := netlink.LinkDel(l); err != nil {
				t.Errorf("delete bridge: %v", err)
			}
		}
	})
	e := setup(t, ctx, func(dir string) error {
		conf := fmt.Sprintf(bridgeConf, filepath.Join(dir, "ipam"))
		return os.WriteFile(filepath.Join(dir, "cni", "10-ctrdtest.conflist"), []byte(conf), 0o644)
	})
	for _, img := range []string{testimages.Pause, testimages.Nginx, testimages.Busybox} {
		if _, err := e.images.PullImage(ctx, &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: img}}); err != nil {
			t.Fatalf("pull %s: %v", img, err)
		}
	}
	sbConfig := &runtimeapi.PodSandboxConfig{
		Metadata:     &runtimeapi.PodSandboxMetadata{Name: "web", Namespace: "default", Uid: "ctrdtest-web"},
		Hostname:     "web",
		LogDirectory: filepath.Join(e.dir, "logs"),
		Linux:        &runtimeapi.LinuxPodSandboxConfig{},
	}
	sb, err := e.runtime.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: sbConfig})
	if err != nil {
		t.Fatalf("run sandbox: %v", err)
	}
	st, err := e.runtime.PodSandboxStatus(ctx, &runtimeapi.PodSandboxStatusRequest{PodSandboxId: sb.PodSandboxId})
	if err != nil {
		t.Fatalf("sandbox status: %v", err)
	}
	podIP := st.GetStatus().GetNetwork().GetIp()
	if podIP == "" {
		t.Fatalf("sandbox has no IP: %v", st.GetStatus())
	}

	start := func(name, image string, cmd ...string) string {
		t.Helper()
		c, err := e.runtime.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{
			PodSandboxId: sb.PodSandboxId,
			Config: &runtimeapi.ContainerConfig{
				Metadata: &runtimeapi.ContainerMetadata{Name: name},
				Image:    &runtimeapi.ImageSpec{Image: image},
				Command:  cmd,
				LogPath:  name + ".log",
				Linux:    &runtimeapi.LinuxContainerConfig{},
			},
			SandboxConfig: sbConfig,
		})
		if err != nil {
			t.Fatalf("create %s: %v", name, err)
		}
		if _, err := e.runtime.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: c.ContainerId}); err != nil {
			t.Fatalf("start %s: %v", name, err)
		}
		return c.ContainerId
	}
	start("nginx", testimages.Nginx)
	shell := start("shell", testimages.Busybox, "sleep", "3600")

	t.Run("nginx serves the welcome page", func(t *testing.T) {
		body, err := pollHTTP(ctx, "http://"+podIP+"/")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(body, "Welcome to nginx!") {
			t.Errorf("got %q, want the welcome page", body)
		}
	})
	t.Run("exec in busybox", func(t *testing.T) {
		resp, err := e.runtime.ExecSync(ctx, &runtimeapi.ExecSyncRequest{
			ContainerId: shell,
			Cmd:         []string{"sh", "-c", "id nobody && hostname && wget -q -O - http://localhost/ | grep -o 'Welcome to nginx!' | head -1"},
			Timeout:     30,
		})
		if err != nil {
			t.Fatal(err)
		}
		want := "uid=65534(nobody) gid=65534(nobody) groups=65534(nobody)\nweb\nWelcome to nginx!\n"
		if resp.ExitCode != 0 || string(resp.Stdout) != want {
			t.Errorf("got exit %d, stdout %q, stderr %q; want 0 and %q", resp.ExitCode, resp.Stdout, resp.Stderr, want)
		}
	})
}

// pollHTTP GETs url until it answers 200 or ctx ends (nginx binds its port
// a moment after its container starts).
func pollHTTP(ctx context.Context, url string) (string, error) {
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{Proxy: nil}}
	ticker := time.NewTicker(100 * time.Millisecond)
	defer ticker.Stop()
	for {
		body, err := get(ctx, client, url)
		if err == nil {
			return body, nil
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("GET %s: %w (last: %v)", url, ctx.Err(), err)
		case <-ticker.C:
		}
	}
}

func get(ctx context.Context, client *http.Client, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("status %s", resp.Status)
	}
	return string(body), nil
}

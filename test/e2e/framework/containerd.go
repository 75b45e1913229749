package framework

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	ctrdtest "github.com/svcnet/svcnet/test/containerd"
	testimages "github.com/svcnet/svcnet/test/images"
)

// RequireContainerd skips the test unless containerd can run here.
func RequireContainerd(t testing.TB) {
	t.Helper()
	RequirePrivileges(t)
	if err := ctrdtest.Available(); err != nil {
		t.Skipf("containerd: %v", err)
	}
}

// TestImages builds the images tests pull (pause, busybox, nginx; see
// package test/images), cached across runs in the user's cache dir.
func TestImages(t testing.TB) map[string]v1.Image {
	t.Helper()
	return buildImages(t, false)
}

// TestImagesWithAgnhost is TestImages with upstream's agnhost too, compiled
// from source at the e2e suite's version: minutes and module downloads the
// first time (so, outside a network namespace), then cached.
func TestImagesWithAgnhost(t testing.TB) map[string]v1.Image {
	t.Helper()
	return buildImages(t, true)
}

func buildImages(t testing.TB, agnhost bool) map[string]v1.Image {
	t.Helper()
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	imgs, err := testimages.Build(ctx, testimages.Config{CacheDir: filepath.Join(cache, "svcnet-test-images"), Agnhost: agnhost})
	if err != nil {
		t.Fatalf("building test images: %v", err)
	}
	return imgs
}

// StartServerWithContainerd runs `svcnet server` at ip on lan with its pods
// in a containerd of the node's own (see startContainerd).
func StartServerWithContainerd(t testing.TB, lan *LAN, ip string, imgs map[string]v1.Image, extraArgs ...string) *Node {
	t.Helper()
	n := newNode(t, lan, ip)
	n.name = "node1"
	n.start(n.serverArgs(append(startContainerd(t, n, imgs), extraArgs...)))
	n.waitReady()
	return n
}

// StartAgentWithContainerd is StartAgent with the agent's pods in a
// containerd of the node's own (see startContainerd).
func StartAgentWithContainerd(t testing.TB, lan *LAN, ip, name string, server *Node, imgs map[string]v1.Image,
	extraArgs ...string) *Node {
	t.Helper()
	n := newNode(t, lan, ip)
	n.name, n.server = name, server
	n.start(n.agentArgs(append(startContainerd(t, n, imgs), extraArgs...)))
	n.waitReady()
	return n
}

// startContainerd starts a containerd in n's network namespace (its state
// under a short temporary dir) that pulls imgs from a registry on the
// node's loopback, serving them as docker.io, registry.k8s.io and
// friends, and returns the svcnet flags that run the node's pods in it.
func startContainerd(t testing.TB, n *Node, imgs map[string]v1.Image) []string {
	t.Helper()
	ln, err := ctrdtest.ListenInNetns(n.Netns, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	reg, err := testimages.ServeListener(ctx, ln, imgs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = reg.Close() })
	dir := ctrdtest.TempDir(t)
	cniConf := filepath.Join(dir, "cni")
	ctd, err := ctrdtest.Start(ctx, ctrdtest.Config{Dir: dir, RegistryAddr: reg.Addr(), CNIConfDir: cniConf, Netns: n.Netns})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			if b, err := os.ReadFile(ctd.LogPath()); err == nil {
				t.Logf("containerd log (tail):\n%s", tail(b, 8000))
			}
		}
		_ = ctd.Stop()
	})
	return []string{"--container-runtime=remote", "--container-runtime-endpoint", ctd.Endpoint(),
		"--cni-conf-dir", cniConf, "--cni-bin-dir", "/usr/lib/cni"}
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

package integration

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/svcnet/svcnet/internal/server"
	"github.com/svcnet/svcnet/test/integration/framework"
)

// TestDiskFull runs the server on a small tmpfs and fills it: writes get
// 507 with a clear message while reads go on and the server stays up,
// and writes resume on their own once the space is freed.
func TestDiskFull(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a tmpfs")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	// etcd preallocates 64 MiB log segments: 200 MiB leave room for one
	// and the reserve.
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=200m"); err != nil {
		t.Skipf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() { _ = unix.Unmount(dir, unix.MNT_DETACH) })
	ts := framework.Start(t, framework.Options{DataDir: filepath.Join(dir, "data"), Modify: func(c *server.Config) {
		c.EtcdDiskReserve = 32 << 20
	}})
	cms := ts.Client.CoreV1().ConfigMaps("default")
	create := func(name string) error {
		_, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
		return err
	}
	if err := create("before"); err != nil {
		t.Fatal(err)
	}
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	filler := filepath.Join(dir, "filler")
	if err := os.WriteFile(filler, make([]byte, int64(st.Bavail)*st.Bsize-(16<<20)), 0o600); err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, 30*time.Second, func() error {
		err := create("during")
		var se *apierrors.StatusError
		if !errors.As(err, &se) || se.ErrStatus.Code != 507 {
			return fmt.Errorf("create with a full disk: got %v, want 507", err)
		}
		return nil
	})
	if _, err := cms.Get(ctx, "before", metav1.GetOptions{}); err != nil {
		t.Errorf("read with a full disk: %v", err)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, 30*time.Second, func() error { return create("after") })
}

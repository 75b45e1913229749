package etcd

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// start runs an embedded member in dir until the returned stop is called.
func start(t *testing.T, dir string) (*Etcd, func()) {
	t.Helper()
	e, err := New(Config{DataDir: dir, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- e.Run(ctx) }()
	stop := func() {
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
	return e, stop
}

func TestRestartKeepsData(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	e, stop := start(t, dir)
	begin := time.Now()
	c, err := e.Client(ctx)
	if err != nil {
		t.Fatalf("Client: %v", err)
	}
	if d := time.Since(begin); d > 5*time.Second {
		t.Errorf("start-up took %s, want under 5s", d)
	}
	if _, err := c.Put(ctx, "/registry/a", "hello"); err != nil {
		t.Fatalf("Put: %v", err)
	}
	stop()

	e2, stop2 := start(t, dir)
	defer stop2()
	c2, err := e2.Client(ctx)
	if err != nil {
		t.Fatalf("Client after restart: %v", err)
	}
	resp, err := c2.Get(ctx, "/registry/a")
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != "hello" {
		t.Fatalf("got %v, want one key with value hello", resp.Kvs)
	}
}

func TestTwoMembersSideBySide(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, stopA := start(t, t.TempDir())
	defer stopA()
	b, stopB := start(t, t.TempDir())
	defer stopB()
	for _, e := range []*Etcd{a, b} {
		if _, err := e.Client(ctx); err != nil {
			t.Fatalf("Client: %v", err)
		}
	}
	if a.Endpoints()[0] == b.Endpoints()[0] {
		t.Errorf("both members listen on %s", a.Endpoints()[0])
	}
	c, err := Dial(ctx, b.Endpoints(), nil)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	defer c.Close()
	if _, err := c.Put(ctx, "k", "v"); err != nil {
		t.Fatalf("Put through Dial: %v", err)
	}
}

func TestClientAfterFailedStart(t *testing.T) {
	e, err := New(Config{DataDir: "/proc/not-writable", Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		StartTimeout: 10 * time.Second})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	runErr := e.Run(context.Background())
	if runErr == nil {
		t.Fatalf("Run: got nil error, want one")
	}
	if _, err := e.Client(context.Background()); err == nil || !errors.Is(err, runErr) {
		t.Errorf("Client: got %v, want %v", err, runErr)
	}
}

func TestNewRequiresDataDir(t *testing.T) {
	if _, err := New(Config{}); err == nil {
		t.Errorf("got nil error, want one for an empty DataDir")
	}
}

// TestPrivateSockets checks that a single member serves only on unix
// sockets in its data directory, which only the directory's owner can
// enter: etcd holds Secrets and the CA key. As root with setpriv and curl
// at hand, it also shows that another user cannot connect where the owner is
// answered.
func TestPrivateSockets(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dir := t.TempDir()
	// Open the test's own directories to everyone, so only what the
	// member does to its data dir keeps other users out.
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	e, stop := start(t, dir)
	defer stop()
	if _, err := e.Client(ctx); err != nil {
		t.Fatalf("Client: %v", err)
	}
	eps := e.Endpoints()
	want := "unix://" + filepath.Join(dir, clientSocket)
	if len(eps) != 1 || eps[0] != want {
		t.Fatalf("got endpoints %v, want only %s", eps, want)
	}
	st, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o700 {
		t.Errorf("data dir mode %v, want 0700", st.Mode().Perm())
	}
	if os.Geteuid() != 0 {
		return
	}
	setpriv, err1 := exec.LookPath("setpriv")
	curl, err2 := exec.LookPath("curl")
	if err1 != nil || err2 != nil {
		t.Logf("skipping the other-user check: %v %v", err1, err2)
		return
	}
	get := []string{curl, "-sS", "--max-time", "5", "--unix-socket", filepath.Join(dir, clientSocket), "http://etcd/version"}
	if out, err := exec.CommandContext(ctx, get[0], get[1:]...).CombinedOutput(); err != nil || !strings.Contains(string(out), "etcdserver") {
		t.Fatalf("owner: %s %v, want etcd's version", out, err)
	}
	other := append([]string{"--reuid=65534", "--regid=65534", "--clear-groups"}, get...)
	out, err := exec.CommandContext(ctx, setpriv, other...).CombinedOutput()
	if err == nil || strings.Contains(string(out), "etcdserver") {
		t.Errorf("another user: %s %v, want no connection", out, err)
	}
}

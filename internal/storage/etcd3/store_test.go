package etcd3

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/svcnet/svcnet/internal/etcd"
	"github.com/svcnet/svcnet/internal/storage"
	"github.com/svcnet/svcnet/internal/storage/storagetest"
)

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// startEtcd runs an embedded etcd in dir until the returned stop is called
// (or the test ends).
func startEtcd(t *testing.T, dir string) (*clientv3.Client, func()) {
	t.Helper()
	e, err := etcd.New(etcd.Config{DataDir: dir, Logger: quietLogger(), CompactionRetention: -1})
	if err != nil {
		t.Fatalf("etcd.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- e.Run(ctx) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("etcd Run: %v", err)
		}
	}
	t.Cleanup(stop)
	wctx, wcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer wcancel()
	client, err := e.Client(wctx)
	if err != nil {
		t.Fatalf("etcd Client: %v", err)
	}
	return client, stop
}

func newStore(t *testing.T, client *clientv3.Client) *Store {
	t.Helper()
	s, err := New(Config{Client: client, Logger: quietLogger(), BookmarkInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

func TestConformance(t *testing.T) {
	client, _ := startEtcd(t, t.TempDir())
	storagetest.Run(t, func(t *testing.T) storage.Interface { return newStore(t, client) })
}

func TestRestartKeepsData(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client, stop := startEtcd(t, dir)
	s := newStore(t, client)
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "a", Namespace: "default"}, Data: map[string]string{"k": "v"}}
	want := &corev1.ConfigMap{}
	if err := s.Create(ctx, "/registry/configmaps/default/a", cm, want, storage.WriteOptions{Reserve: []string{"/r/1"}}); err != nil {
		t.Fatalf("Create: %v", err)
	}
	stop()

	client2, _ := startEtcd(t, dir)
	s2 := newStore(t, client2)
	got := &corev1.ConfigMap{}
	if err := s2.Get(ctx, "/registry/configmaps/default/a", got); err != nil {
		t.Fatalf("Get after restart: %v", err)
	}
	if got.ResourceVersion != want.ResourceVersion || got.Data["k"] != "v" {
		t.Errorf("got %+v, want %+v", got, want)
	}
	res, _, err := s2.Reservations(ctx, "/r/")
	if err != nil || res["/r/1"] != "/registry/configmaps/default/a" {
		t.Errorf("got reservations %v, %v, want /r/1 held by the object", res, err)
	}
}

func TestStoredForm(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client, _ := startEtcd(t, t.TempDir())
	s := newStore(t, client)
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "a", Namespace: "default"}}
	if err := s.Create(ctx, "/registry/configmaps/default/a", cm, &corev1.ConfigMap{}, storage.WriteOptions{}); err != nil {
		t.Fatalf("Create: %v", err)
	}
	resp, err := client.Get(ctx, "/registry/configmaps/default/a")
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("raw Get: %v, %d keys", err, len(resp.Kvs))
	}
	var raw struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			ResourceVersion string `json:"resourceVersion"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal(resp.Kvs[0].Value, &raw); err != nil {
		t.Fatalf("stored value is not JSON: %v", err)
	}
	if raw.APIVersion != "v1" || raw.Kind != "ConfigMap" || raw.Metadata.ResourceVersion != "" {
		t.Errorf("got apiVersion %q kind %q resourceVersion %q, want v1 ConfigMap and none",
			raw.APIVersion, raw.Kind, raw.Metadata.ResourceVersion)
	}
}

// TestRequestProgress: a watch asked for its progress sends a BOOKMARK at
// the current revision even when nothing below its prefix changed, long
// before its periodic bookmark.
func TestRequestProgress(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client, _ := startEtcd(t, t.TempDir())
	s, err := New(Config{Client: client, Logger: quietLogger(), BookmarkInterval: time.Hour})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	w, err := s.Watch(ctx, "/registry/watched/", storage.WatchOptions{Recursive: true, AllowBookmarks: true,
		ResourceVersion: "1", NewObject: func() runtime.Object { return &corev1.ConfigMap{} }})
	if err != nil {
		t.Fatalf("Watch: %v", err)
	}
	defer w.Stop()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "a", Namespace: "default"}}
	if err := s.Create(ctx, "/registry/elsewhere/default/a", cm, &corev1.ConfigMap{}, storage.WriteOptions{}); err != nil {
		t.Fatalf("Create: %v", err)
	}
	rev, err := s.CurrentRevision(ctx)
	if err != nil {
		t.Fatalf("CurrentRevision: %v", err)
	}
	pr, ok := w.(storage.ProgressRequester)
	if !ok {
		t.Fatalf("watch %T is no storage.ProgressRequester", w)
	}
	if err := pr.RequestProgress(ctx); err != nil {
		t.Fatalf("RequestProgress: %v", err)
	}
	select {
	case ev := <-w.ResultChan():
		if ev.Type != watch.Bookmark {
			t.Fatalf("got %s event, want BOOKMARK", ev.Type)
		}
		if got := ev.Object.(*corev1.ConfigMap).ResourceVersion; got != formatRV(rev) {
			t.Errorf("got bookmark at %s, want the current revision %d", got, rev)
		}
	case <-ctx.Done():
		t.Fatalf("no bookmark after RequestProgress")
	}
}

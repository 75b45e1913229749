package storagetest

import (
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/svcnet/svcnet/internal/storage"
)

// expiryTimeout bounds how long an object written with a one-second TTL
// may take to disappear: the store may round the TTL up (etcd's minimum
// lease is about two seconds) and checks expiry periodically.
const expiryTimeout = 20 * time.Second

// testTTL: an object written with a TTL disappears on its own, watchers see
// it DELETED in its last state, an update sets the TTL anew, and neither
// its permanent sibling nor the reservation made with it goes away.
func testTTL(t *testing.T, e *env) {
	e.create("keep", nil, "1")
	created := &corev1.ConfigMap{}
	opts := storage.WriteOptions{TTL: time.Second, Reserve: []string{e.reservation("r")}}
	if err := e.store.Create(e.ctx, e.key("a"), configMap("a", nil, "1"), created, opts); err != nil {
		t.Fatalf("Create with TTL: %v", err)
	}
	w := e.watch(storage.WatchOptions{ResourceVersion: created.ResourceVersion, Recursive: true})
	updated := &corev1.ConfigMap{}
	err := e.store.GuaranteedUpdate(e.ctx, e.key("a"), updated, false, nil,
		func(cur runtime.Object) (runtime.Object, storage.WriteOptions, error) {
			cm := cur.(*corev1.ConfigMap).DeepCopy()
			cm.Data = map[string]string{"v": "2"}
			return cm, storage.WriteOptions{TTL: time.Second}, nil
		})
	if err != nil {
		t.Fatalf("GuaranteedUpdate with TTL: %v", err)
	}

	deadline := time.Now().Add(expiryTimeout)
	for {
		err := e.store.Get(e.ctx, e.key("a"), &corev1.ConfigMap{})
		if storage.IsNotFound(err) {
			break
		}
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("object written with a 1s TTL still there after %v", expiryTimeout)
		}
		time.Sleep(50 * time.Millisecond) // poll interval, not synchronisation
	}

	if got, want := summarize(t, next(t, w, false)), (summary{watch.Modified, "a", "2", updated.ResourceVersion}); got != want {
		t.Errorf("got event %+v, want %+v", got, want)
	}
	got := summarize(t, next(t, w, false))
	if got.Type != watch.Deleted || got.Name != "a" || got.Data != "2" {
		t.Errorf("got event %+v, want DELETED of a in its last state (data 2)", got)
	}
	if rv, _ := strconv.ParseInt(got.ResourceVersion, 10, 64); rv <= mustRV(t, updated.ResourceVersion) {
		t.Errorf("got DELETED at resourceVersion %s, want one after the update's %s", got.ResourceVersion, updated.ResourceVersion)
	}
	if list := names(e.list(storage.ListOptions{})); len(list) != 1 || list[0] != "keep" {
		t.Errorf("got objects %v, want only the permanent one [keep]", list)
	}
	res, _, err := e.store.Reservations(e.ctx, e.reservation(""))
	if err != nil {
		t.Fatalf("Reservations: %v", err)
	}
	if owner := res[e.reservation("r")]; owner != e.key("a") {
		t.Errorf("got reservation owner %q, want %q (reservations never expire)", owner, e.key("a"))
	}
}

func mustRV(t *testing.T, rv string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(rv, 10, 64)
	if err != nil {
		t.Fatalf("resourceVersion %q: %v", rv, err)
	}
	return n
}

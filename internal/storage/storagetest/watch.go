package storagetest

import (
	"context"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/svcnet/svcnet/internal/storage"
)

func testWatchFromResourceVersion(t *testing.T, e *env) {
	a := e.create("a", nil, "1")
	w := e.watch(storage.WatchOptions{ResourceVersion: a.ResourceVersion, Recursive: true})
	b := e.create("b", nil, "1")
	a2 := e.update("a", nil, "2")
	bDeleted := e.delete("b")
	delRev := strconv.FormatInt(e.revision(), 10)

	want := []summary{
		{watch.Added, "b", "1", b.ResourceVersion},
		{watch.Modified, "a", "2", a2.ResourceVersion},
		{watch.Deleted, "b", bDeleted.Data["v"], delRev},
	}
	var got []summary
	for range want {
		got = append(got, summarize(t, next(t, w, false)))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}

	// A watch from an older revision replays the same changes.
	w2 := e.watch(storage.WatchOptions{ResourceVersion: a.ResourceVersion, Recursive: true})
	got = nil
	for range want {
		got = append(got, summarize(t, next(t, w2, false)))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("replayed events (-want +got):\n%s", diff)
	}
}

func testWatchInitialEvents(t *testing.T, e *env) {
	e.create("a", nil, "1")
	e.create("b", nil, "1")
	for _, rv := range []string{"", "0"} {
		t.Run("rv="+rv, func(t *testing.T) {
			var want []summary
			for _, cm := range e.list(storage.ListOptions{}).Items {
				want = append(want, summary{watch.Added, cm.Name, cm.Data["v"], cm.ResourceVersion})
			}
			w := e.watch(storage.WatchOptions{ResourceVersion: rv, Recursive: true})
			var got []summary
			for range want {
				got = append(got, summarize(t, next(t, w, false)))
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("initial events (-want +got):\n%s", diff)
			}
			c := e.create("c"+rv, nil, "1")
			if diff := cmp.Diff(summary{watch.Added, c.Name, "1", c.ResourceVersion}, summarize(t, next(t, w, false))); diff != "" {
				t.Errorf("event after initial ones (-want +got):\n%s", diff)
			}
		})
	}
}

func testWatchSendInitialEvents(t *testing.T, e *env) {
	a := e.create("a", nil, "1")
	b := e.create("b", nil, "1")
	for _, rv := range []string{"", a.ResourceVersion} {
		t.Run("rv="+rv, func(t *testing.T) {
			start := strconv.FormatInt(e.revision(), 10)
			w := e.watch(storage.WatchOptions{ResourceVersion: rv, Recursive: true, SendInitialEvents: true,
				AllowBookmarks: true})
			want := []summary{
				{watch.Added, "a", "1", a.ResourceVersion},
				{watch.Added, "b", "1", b.ResourceVersion},
			}
			var got []summary
			for range want {
				got = append(got, summarize(t, next(t, w, false)))
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("initial events (-want +got):\n%s", diff)
			}
			ev := next(t, w, true)
			if ev.Type != watch.Bookmark {
				t.Fatalf("got %s event, want BOOKMARK", ev.Type)
			}
			if _, ok := ev.Object.(*corev1.ConfigMap); !ok {
				t.Errorf("bookmark object is %T, want the NewObject type", ev.Object)
			}
			acc, err := meta.Accessor(ev.Object)
			if err != nil {
				t.Fatalf("bookmark object: %v", err)
			}
			if acc.GetResourceVersion() != start {
				t.Errorf("got bookmark resourceVersion %s, want start revision %s", acc.GetResourceVersion(), start)
			}
			if got := acc.GetAnnotations()["k8s.io/initial-events-end"]; got != "true" {
				t.Errorf("got initial-events-end annotation %q, want \"true\"", got)
			}
		})
	}
	t.Run("too large resourceVersion", func(t *testing.T) {
		_, err := e.store.Watch(e.ctx, e.prefix, storage.WatchOptions{
			ResourceVersion: strconv.FormatInt(e.revision()+100, 10), Recursive: true,
			SendInitialEvents: true, AllowBookmarks: true,
			NewObject: func() runtime.Object { return &corev1.ConfigMap{} },
		})
		if err == nil {
			t.Errorf("got nil error, want one")
		}
	})
}

func testWatchBookmarks(t *testing.T, e *env) {
	e.create("a", nil, "1")
	w := e.watch(storage.WatchOptions{ResourceVersion: strconv.FormatInt(e.revision(), 10), Recursive: true,
		AllowBookmarks: true})
	b := e.create("b", nil, "1")
	bRev, _ := strconv.ParseInt(b.ResourceVersion, 10, 64)
	if ev := summarize(t, next(t, w, false)); ev.Name != "b" {
		t.Fatalf("got event %+v, want ADDED b", ev)
	}
	for {
		ev := next(t, w, true)
		if ev.Type != watch.Bookmark {
			t.Fatalf("got %s event, want only bookmarks", ev.Type)
		}
		acc, _ := meta.Accessor(ev.Object)
		rev, err := strconv.ParseInt(acc.GetResourceVersion(), 10, 64)
		if err != nil {
			t.Fatalf("bookmark resourceVersion %q: %v", acc.GetResourceVersion(), err)
		}
		if len(acc.GetAnnotations()) != 0 {
			t.Errorf("periodic bookmark has annotations %v, want none", acc.GetAnnotations())
		}
		if rev >= bRev {
			return
		}
	}
}

func testWatchPredicate(t *testing.T, e *env) {
	selected := func(obj runtime.Object) (bool, error) {
		return obj.(*corev1.ConfigMap).Labels["sel"] == "yes", nil
	}
	yes, no := map[string]string{"sel": "yes"}, map[string]string{"sel": "no"}
	e.create("pre-yes", yes, "1")
	e.create("pre-no", no, "1")
	w := e.watch(storage.WatchOptions{Recursive: true, Predicate: selected})
	if ev := summarize(t, next(t, w, false)); ev != (summary{watch.Added, "pre-yes", "1", e.get("pre-yes").ResourceVersion}) {
		t.Errorf("got initial event %+v, want ADDED pre-yes only", ev)
	}
	e.create("a", no, "1")
	a2 := e.update("a", yes, "2")
	a3 := e.update("a", yes, "3")
	a4 := e.update("a", no, "4")
	e.update("a", no, "5")
	e.delete("a")
	e.create("b", yes, "1")
	bDeleted := e.delete("b")
	delRev := strconv.FormatInt(e.revision(), 10)
	end := e.create("end", yes, "")

	want := []summary{
		{watch.Added, "a", "2", a2.ResourceVersion},
		{watch.Modified, "a", "3", a3.ResourceVersion},
		// Stops matching: the last matching state at the new revision.
		{watch.Deleted, "a", "3", a4.ResourceVersion},
		{watch.Added, "b", "1", e.list(storage.ListOptions{}).ResourceVersion}, // replaced below
		{watch.Deleted, "b", bDeleted.Data["v"], delRev},
		{watch.Added, "end", "", end.ResourceVersion},
	}
	var got []summary
	for range want {
		got = append(got, summarize(t, next(t, w, false)))
	}
	want[3].ResourceVersion = got[3].ResourceVersion
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}

func testWatchSingleKey(t *testing.T, e *env) {
	e.create("a", nil, "1")
	e.create("ab", nil, "1")
	w, err := e.store.Watch(e.ctx, e.key("a"), storage.WatchOptions{
		ResourceVersion: strconv.FormatInt(e.revision(), 10),
		NewObject:       func() runtime.Object { return &corev1.ConfigMap{} },
	})
	if err != nil {
		t.Fatalf("Watch: %v", err)
	}
	defer w.Stop()
	e.update("ab", nil, "2")
	e.update("a", nil, "2")
	if ev := summarize(t, next(t, w, false)); ev.Name != "a" || ev.Type != watch.Modified {
		t.Errorf("got %+v, want MODIFIED a (changes of ab are not watched)", ev)
	}
}

func testWatchStop(t *testing.T, e *env) {
	w := e.watch(storage.WatchOptions{Recursive: true})
	w.Stop()
	waitClosed(t, w)

	ctx, cancel := context.WithCancel(e.ctx)
	w2, err := e.store.Watch(ctx, e.prefix, storage.WatchOptions{Recursive: true,
		NewObject: func() runtime.Object { return &corev1.ConfigMap{} }})
	if err != nil {
		t.Fatalf("Watch: %v", err)
	}
	defer w2.Stop()
	e.create("a", nil, "1")
	cancel()
	waitClosed(t, w2)
}

func testCompaction(t *testing.T, e *env) {
	c, ok := e.store.(Compactor)
	if !ok {
		t.Skip("store cannot compact on demand")
	}
	for _, n := range []string{"a", "b", "c"} {
		e.create(n, nil, "1")
	}
	old := e.get("a").ResourceVersion
	first := e.list(storage.ListOptions{Limit: 1})
	e.update("a", nil, "2")
	if err := c.Compact(e.ctx, e.revision()); err != nil {
		t.Fatalf("Compact: %v", err)
	}
	for _, tc := range []struct {
		name string
		opts storage.ListOptions
	}{
		{"exact", storage.ListOptions{ResourceVersion: old, ResourceVersionMatch: "Exact"}},
		{"continue", storage.ListOptions{Limit: 1, Continue: first.Continue}},
	} {
		t.Run("list "+tc.name, func(t *testing.T) {
			err := e.store.GetList(e.ctx, e.prefix, tc.opts, &corev1.ConfigMapList{})
			if !storage.IsGone(err) {
				t.Errorf("got %v, want ErrGone", err)
			}
		})
	}
	t.Run("watch", func(t *testing.T) {
		w, err := e.store.Watch(e.ctx, e.prefix, storage.WatchOptions{ResourceVersion: old, Recursive: true,
			NewObject: func() runtime.Object { return &corev1.ConfigMap{} }})
		if storage.IsGone(err) {
			return
		}
		if err != nil {
			t.Fatalf("got %v, want ErrGone", err)
		}
		defer w.Stop()
		ev := next(t, w, false)
		if ev.Type != watch.Error {
			t.Fatalf("got %s event, want ERROR with 410", ev.Type)
		}
	})
	t.Run("newest still works", func(t *testing.T) {
		if got := len(e.list(storage.ListOptions{ResourceVersion: old, ResourceVersionMatch: "NotOlderThan"}).Items); got != 3 {
			t.Errorf("got %d items, want 3", got)
		}
		w := e.watch(storage.WatchOptions{ResourceVersion: strconv.FormatInt(e.revision(), 10), Recursive: true})
		e.update("b", nil, "2")
		if ev := summarize(t, next(t, w, false)); ev.Name != "b" {
			t.Errorf("got %+v, want MODIFIED b", ev)
		}
	})
}

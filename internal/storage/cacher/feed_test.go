package cacher

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/svcnet/svcnet/internal/storage"
)

// listFromCache polls consistent lists until the cache answers one.
func (f *fixture) listFromCache() []string {
	f.t.Helper()
	var got []string
	waitFor(f.t, "a list from the cache", func() bool {
		var fromCache bool
		_, got, fromCache = f.mustList(storage.ListOptions{})
		return fromCache
	})
	return got
}

// TestResumeAfterWatchEnds: when its watch ends, the cache watches again
// from its revision, without a new list, and misses nothing.
func TestResumeAfterWatchEnds(t *testing.T) {
	f := newFixture(t, 10*time.Second)
	f.create("a", "1")
	f.probe.breakWatches(true)
	f.create("b", "1")
	f.update("a", "2")
	f.probe.release()
	if diff := cmp.Diff([]string{"a=2", "b=1"}, f.listFromCache()); diff != "" {
		t.Errorf("items (-want +got):\n%s", diff)
	}
	opened := f.probe.watchesOpened()
	if len(opened) != 2 {
		t.Fatalf("got %d watches, want the first and one resumed", len(opened))
	}
	if opened[1].SendInitialEvents || opened[1].ResourceVersion == "" {
		t.Errorf("got watch %+v, want one resumed from the cache's revision", opened[1])
	}
}

// TestRelistAfterCompaction: a cache whose revision etcd compacted away
// lists again (410 Gone on the resumed watch).
func TestRelistAfterCompaction(t *testing.T) {
	f := newFixture(t, 10*time.Second)
	f.create("a", "1")
	f.create("b", "1")
	f.probe.breakWatches(true)
	f.delete("a")
	f.create("c", "1")
	if err := f.etcd.Compact(f.ctx, f.revision()); err != nil {
		t.Fatalf("Compact: %v", err)
	}
	f.probe.release()
	if diff := cmp.Diff([]string{"b=1", "c=1"}, f.listFromCache()); diff != "" {
		t.Errorf("items (-want +got):\n%s", diff)
	}
	var lists int
	for _, o := range f.probe.watchesOpened() {
		if o.SendInitialEvents {
			lists++
		}
	}
	if lists != 2 {
		t.Errorf("got %d watches with initial events, want 2 (start and relist)", lists)
	}
}

// TestWholeRevisions: the changes of one revision (one transaction) reach
// the cache together, once a later revision or a bookmark shows that
// revision complete.
func TestWholeRevisions(t *testing.T) {
	cm := func(name, rv string) *corev1.ConfigMap {
		return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", ResourceVersion: rv}}
	}
	bookmark := func(rv string) watch.Event { return watch.Event{Type: watch.Bookmark, Object: cm("", rv)} }
	type step struct {
		ev      watch.Event
		wantRev int64
		want    []string // keys in the cache
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"a later revision completes one", []step{
			{watch.Event{Type: watch.Added, Object: cm("a", "5")}, 1, []string{"x"}},
			{watch.Event{Type: watch.Added, Object: cm("b", "5")}, 1, []string{"x"}},
			{watch.Event{Type: watch.Deleted, Object: cm("x", "6")}, 5, []string{"a", "b", "x"}},
			{bookmark("6"), 6, []string{"a", "b"}},
		}},
		{"a bookmark completes one", []step{
			{watch.Event{Type: watch.Modified, Object: cm("x", "3")}, 1, []string{"x"}},
			{bookmark("3"), 3, []string{"x"}},
			{bookmark("9"), 9, []string{"x"}},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCache()
			c.replace([]entry{{key: "/p/ns/x", obj: cm("x", "1")}}, 1)
			s := &session{feed: &feed{cache: c, prefix: "/p/", keyFunc: defaultKeyFunc("/p/")}, live: true}
			for i, st := range tc.steps {
				if err := s.handle(st.ev); err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				var keys []string
				for _, e := range c.entries {
					keys = append(keys, e.key[len("/p/ns/"):])
				}
				if c.rev != st.wantRev {
					t.Errorf("step %d: got revision %d, want %d", i, c.rev, st.wantRev)
				}
				if diff := cmp.Diff(st.want, keys); diff != "" {
					t.Errorf("step %d: keys (-want +got):\n%s", i, diff)
				}
			}
		})
	}
}

func TestNewRefuses(t *testing.T) {
	cms := func() runtime.Object { return &corev1.ConfigMap{} }
	store := &probe{}
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"no store", Config{}},
		{"relative prefix", Config{Store: store, Resources: []Resource{{Prefix: "registry/x/", NewFunc: cms}}}},
		{"no NewFunc", Config{Store: store, Resources: []Resource{{Prefix: "/registry/x/"}}}},
		{"same prefix twice", Config{Store: store, Resources: []Resource{{Prefix: "/registry/x", NewFunc: cms},
			{Prefix: "/registry/x/", NewFunc: cms}}}},
		{"nested prefixes", Config{Store: store, Resources: []Resource{{Prefix: "/registry/x/y/", NewFunc: cms},
			{Prefix: "/registry/x/", NewFunc: cms}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(tc.cfg); err == nil {
				t.Errorf("got no error, want one")
			}
		})
	}
	if _, err := New(Config{Store: store, Resources: []Resource{{Prefix: "/registry/x/", NewFunc: cms},
		{Prefix: "/registry/xy/", NewFunc: cms}}}); err != nil {
		t.Errorf("sibling prefixes: got %v, want nil", err)
	}
}

package cacher

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	clientv3 "go.etcd.io/etcd/client/v3"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/svcnet/svcnet/internal/storage"
	"github.com/svcnet/svcnet/internal/storage/etcd3"
)

const cmPrefix = "/registry/configmaps/"

// fixture is a Cacher of ConfigMaps over a probe over etcd. The etcd3
// store sends no periodic bookmarks: the cache learns its progress only by
// asking.
type fixture struct {
	t     *testing.T
	ctx   context.Context
	etcd  *etcd3.Store
	probe *probe
	c     *Cacher
}

func newFixture(t *testing.T, waitTimeout time.Duration) *fixture {
	return newFixtureOn(t, startEtcd(t), waitTimeout)
}

func newFixtureOn(t *testing.T, client *clientv3.Client, waitTimeout time.Duration) *fixture {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	store := newEtcdStore(t, client, time.Hour)
	p := &probe{Interface: store}
	return &fixture{t: t, ctx: ctx, etcd: store, probe: p, c: startCacher(t, p, waitTimeout, configMaps(cmPrefix))}
}

func (f *fixture) key(name string) string { return cmPrefix + "default/" + name }

func (f *fixture) create(name, data string) *corev1.ConfigMap {
	f.t.Helper()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}, Data: map[string]string{"v": data}}
	out := &corev1.ConfigMap{}
	if err := f.c.Create(f.ctx, f.key(name), cm, out, storage.WriteOptions{}); err != nil {
		f.t.Fatalf("Create %s: %v", name, err)
	}
	return out
}

func (f *fixture) update(name, data string) *corev1.ConfigMap {
	f.t.Helper()
	out := &corev1.ConfigMap{}
	err := f.c.GuaranteedUpdate(f.ctx, f.key(name), out, false, nil,
		func(cur runtime.Object) (runtime.Object, storage.WriteOptions, error) {
			cm := cur.(*corev1.ConfigMap).DeepCopy()
			cm.Data = map[string]string{"v": data}
			return cm, storage.WriteOptions{}, nil
		})
	if err != nil {
		f.t.Fatalf("GuaranteedUpdate %s: %v", name, err)
	}
	return out
}

func (f *fixture) delete(name string) {
	f.t.Helper()
	if err := f.c.Delete(f.ctx, f.key(name), &corev1.ConfigMap{}, nil, nil, storage.WriteOptions{}); err != nil {
		f.t.Fatalf("Delete %s: %v", name, err)
	}
}

func (f *fixture) revision() int64 {
	f.t.Helper()
	rev, err := f.c.CurrentRevision(f.ctx)
	if err != nil {
		f.t.Fatalf("CurrentRevision: %v", err)
	}
	return rev
}

// list lists through the Cacher and reports whether the cache answered
// (the store did not).
func (f *fixture) list(prefix string, opts storage.ListOptions, into runtime.Object) (fromCache bool, err error) {
	before := f.probe.lists.Load()
	err = f.c.GetList(f.ctx, prefix, opts, into)
	return f.probe.lists.Load() == before, err
}

// mustList lists ConfigMaps and returns them as name=data.
func (f *fixture) mustList(opts storage.ListOptions) (*corev1.ConfigMapList, []string, bool) {
	f.t.Helper()
	list := &corev1.ConfigMapList{}
	fromCache, err := f.list(cmPrefix, opts, list)
	if err != nil {
		f.t.Fatalf("GetList %+v: %v", opts, err)
	}
	var got []string
	for _, cm := range list.Items {
		got = append(got, cm.Name+"="+cm.Data["v"])
	}
	return list, got, fromCache
}

func rvString(rev int64) string { return strconv.FormatInt(rev, 10) }

func TestListResourceVersion(t *testing.T) {
	f := newFixture(t, 300*time.Millisecond)
	rev1 := rvString(mustRV(t, f.create("a", "1").ResourceVersion))
	f.update("a", "2")
	f.create("b", "1")
	current := f.revision()

	for _, tc := range []struct {
		name      string
		prefix    string
		opts      storage.ListOptions
		list      runtime.Object // a ConfigMapList when nil
		fromCache bool
		want      []string
		wantRV    string // the current revision when empty
		wantErr   bool
	}{
		{name: "consistent", fromCache: true, want: []string{"a=2", "b=1"}},
		{name: "consistent of a namespace", prefix: cmPrefix + "default", fromCache: true, want: []string{"a=2", "b=1"}},
		{name: "consistent, NotOlderThan without resourceVersion", opts: storage.ListOptions{ResourceVersionMatch: "NotOlderThan"},
			fromCache: true, want: []string{"a=2", "b=1"}},
		{name: "any", opts: storage.ListOptions{ResourceVersion: "0"}, fromCache: true, want: []string{"a=2", "b=1"}},
		{name: "any ignores the limit", opts: storage.ListOptions{ResourceVersion: "0", Limit: 1}, fromCache: true,
			want: []string{"a=2", "b=1"}},
		{name: "not older than", opts: storage.ListOptions{ResourceVersion: rev1, ResourceVersionMatch: "NotOlderThan"},
			fromCache: true, want: []string{"a=2", "b=1"}},
		{name: "not older than, no match", opts: storage.ListOptions{ResourceVersion: rev1}, fromCache: true,
			want: []string{"a=2", "b=1"}},
		{name: "exact goes to the store", opts: storage.ListOptions{ResourceVersion: rev1, ResourceVersionMatch: "Exact"},
			want: []string{"a=1"}, wantRV: rev1},
		{name: "legacy exact paging goes to the store", opts: storage.ListOptions{ResourceVersion: rev1, Limit: 10},
			want: []string{"a=1"}, wantRV: rev1},
		{name: "future revision: the store refuses after the wait",
			opts:    storage.ListOptions{ResourceVersion: rvString(current + 100), ResourceVersionMatch: "NotOlderThan"},
			wantErr: true},
		{name: "unknown match", opts: storage.ListOptions{ResourceVersion: "1", ResourceVersionMatch: "Newest"}, wantErr: true},
		{name: "invalid resourceVersion", opts: storage.ListOptions{ResourceVersion: "x"}, wantErr: true},
		{name: "uncached prefix", prefix: "/registry/secrets/", want: nil},
		// The store answers (and cannot decode ConfigMaps as Pods).
		{name: "another kind", list: &corev1.PodList{}, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prefix := tc.prefix
			if prefix == "" {
				prefix = cmPrefix
			}
			list := tc.list
			if list == nil {
				list = &corev1.ConfigMapList{}
			}
			fromCache, err := f.list(prefix, tc.opts, list)
			if tc.wantErr {
				if err == nil {
					t.Errorf("got no error, want one")
				}
				return
			}
			if err != nil {
				t.Fatalf("GetList: %v", err)
			}
			if fromCache != tc.fromCache {
				t.Errorf("got answered from the cache %v, want %v", fromCache, tc.fromCache)
			}
			cms, ok := list.(*corev1.ConfigMapList)
			if !ok {
				return
			}
			var got []string
			for _, cm := range cms.Items {
				got = append(got, cm.Name+"="+cm.Data["v"])
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("items (-want +got):\n%s", diff)
			}
			wantRV := tc.wantRV
			if wantRV == "" {
				wantRV = rvString(current)
			}
			if cms.ResourceVersion != wantRV {
				t.Errorf("got list resourceVersion %s, want %s", cms.ResourceVersion, wantRV)
			}
			if cms.Continue != "" {
				t.Errorf("got continue token %q, want none", cms.Continue)
			}
		})
	}
}

// TestWriteThenList: a consistent list right after a write sees it, from
// the cache, also when the newest revision changed keys elsewhere only
// (the cache then learns it is current by asking for progress).
func TestWriteThenList(t *testing.T) {
	f := newFixture(t, 10*time.Second)
	var want []string
	for i := range 20 {
		name := fmt.Sprintf("cm%02d", i)
		f.create(name, "1")
		want = append(want, name+"=1")
		step := fmt.Sprintf("after creating %s", name)
		switch i % 4 {
		case 1:
			f.update(name, "2")
			want[len(want)-1] = name + "=2"
			step = "after updating " + name
		case 2:
			f.delete(name)
			want = want[:len(want)-1]
			step = "after deleting " + name
		case 3:
			// A write elsewhere moves the revision past the cache's last
			// event.
			if err := f.c.Reserve(f.ctx, "/registry/elsewhere/"+name, "x"); err != nil {
				t.Fatalf("Reserve: %v", err)
			}
			step += " and a write elsewhere"
		}
		rev := f.revision()
		list, got, fromCache := f.mustList(storage.ListOptions{})
		if !fromCache {
			t.Errorf("%s: the store answered, want the cache", step)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("%s: items (-want +got):\n%s", step, diff)
		}
		if list.ResourceVersion != rvString(rev) {
			t.Errorf("%s: got resourceVersion %s, want the current %d", step, list.ResourceVersion, rev)
		}
	}
}

// TestAnyIsNeverNewer: resourceVersion "0" may be stale but never newer
// than the store.
func TestAnyIsNeverNewer(t *testing.T) {
	f := newFixture(t, time.Second)
	for i := range 10 {
		f.create(fmt.Sprintf("cm%d", i), "1")
		list, got, fromCache := f.mustList(storage.ListOptions{ResourceVersion: "0"})
		rev := mustRV(t, list.ResourceVersion)
		if current := f.revision(); rev > current || !fromCache {
			t.Fatalf("got resourceVersion %d (from cache %v), want one from the cache at most %d", rev, fromCache, current)
		}
		// What the list has is exactly the store's state at its revision.
		exact := &corev1.ConfigMapList{}
		if err := f.etcd.GetList(f.ctx, cmPrefix, storage.ListOptions{ResourceVersion: list.ResourceVersion,
			ResourceVersionMatch: "Exact"}, exact); err != nil {
			t.Fatalf("exact GetList: %v", err)
		}
		if diff := cmp.Diff(exact.Items, list.Items); diff != "" {
			t.Errorf("list at %d differs from the store's state then (-store +cache):\n%s", rev, diff)
		}
		if len(got) > i+1 {
			t.Errorf("got %d items, want at most %d", len(got), i+1)
		}
	}
}

// TestNotOlderThanWaits: a list at a revision the cache has not reached
// waits for it and is answered from the cache.
func TestNotOlderThanWaits(t *testing.T) {
	f := newFixture(t, 10*time.Second)
	f.create("a", "1")
	next := f.revision() + 1
	type result struct {
		list      *corev1.ConfigMapList
		fromCache bool
		err       error
	}
	done := make(chan result, 1)
	go func() {
		list := &corev1.ConfigMapList{}
		fromCache, err := f.list(cmPrefix, storage.ListOptions{ResourceVersion: rvString(next),
			ResourceVersionMatch: "NotOlderThan"}, list)
		done <- result{list, fromCache, err}
	}()
	waitFor(t, "the list to wait", func() bool { return f.c.resources[0].cache.waiters.Load() == 1 })
	select {
	case r := <-done:
		t.Fatalf("list returned before the revision existed: %+v", r)
	default:
	}
	f.create("b", "1")
	r := <-done
	if r.err != nil || !r.fromCache {
		t.Fatalf("got %v (from cache %v), want a list from the cache", r.err, r.fromCache)
	}
	if rev := mustRV(t, r.list.ResourceVersion); rev < next || len(r.list.Items) != 2 {
		t.Errorf("got %d items at %d, want 2 at %d or later", len(r.list.Items), rev, next)
	}
}

// TestContinueAcrossCacheAndStore: the first page comes from the cache,
// the next from the store at the first page's revision, with one token
// format both ways.
func TestContinueAcrossCacheAndStore(t *testing.T) {
	f := newFixture(t, 10*time.Second)
	var all []string
	for i := range 5 {
		name := fmt.Sprintf("cm%d", i)
		f.create(name, "1")
		all = append(all, name+"=1")
	}
	first, got, fromCache := f.mustList(storage.ListOptions{Limit: 2})
	if !fromCache || first.Continue == "" {
		t.Fatalf("first page: from cache %v, continue %q; want a page from the cache with a token", fromCache, first.Continue)
	}
	if first.RemainingItemCount == nil || *first.RemainingItemCount != 3 {
		t.Errorf("got remainingItemCount %v, want 3", first.RemainingItemCount)
	}
	key, rev, err := storage.DecodeContinue(first.Continue, cmPrefix)
	if err != nil || key != f.key("cm1")+"\x00" || rvString(rev) != first.ResourceVersion {
		t.Errorf("token decodes to %q at %d (%v), want %q at %s", key, rev, err, f.key("cm1")+"\x00", first.ResourceVersion)
	}
	f.create("late", "1") // after the first page: never seen by the next
	token := first.Continue
	for token != "" {
		page, items, fromCache := f.mustList(storage.ListOptions{Limit: 2, Continue: token})
		if fromCache {
			t.Errorf("a continued page came from the cache, want the store")
		}
		if page.ResourceVersion != first.ResourceVersion {
			t.Errorf("got page at %s, want the first page's %s", page.ResourceVersion, first.ResourceVersion)
		}
		got = append(got, items...)
		token = page.Continue
	}
	if diff := cmp.Diff(all, got); diff != "" {
		t.Errorf("pages (-want +got):\n%s", diff)
	}

	// A token of the store goes back to the store through the Cacher.
	storeFirst := &corev1.ConfigMapList{}
	if err := f.etcd.GetList(f.ctx, cmPrefix, storage.ListOptions{Limit: 5}, storeFirst); err != nil {
		t.Fatalf("store GetList: %v", err)
	}
	_, rest, fromCache := f.mustList(storage.ListOptions{Limit: 5, Continue: storeFirst.Continue})
	if fromCache || len(storeFirst.Items)+len(rest) != 6 {
		t.Errorf("got %d+%d items (from cache %v), want 6 from the store", len(storeFirst.Items), len(rest), fromCache)
	}
}

// TestPagesCountOnlyMatches: a filtered page from the cache holds limit
// matching objects, and its token resumes after the last key looked at.
func TestPagesCountOnlyMatches(t *testing.T) {
	f := newFixture(t, 10*time.Second)
	for i := range 7 {
		f.create(fmt.Sprintf("cm%d", i), strconv.Itoa(i%2))
	}
	odd := func(obj runtime.Object) (bool, error) { return obj.(*corev1.ConfigMap).Data["v"] == "1", nil }
	var got []string
	token, pages := "", 0
	for {
		list, items, fromCache := f.mustList(storage.ListOptions{Limit: 2, Continue: token, Predicate: odd})
		if pages == 0 && !fromCache {
			t.Errorf("first page from the store, want the cache")
		}
		if list.RemainingItemCount != nil {
			t.Errorf("got remainingItemCount %d with a predicate, want none", *list.RemainingItemCount)
		}
		pages++
		got = append(got, items...)
		if token = list.Continue; token == "" {
			break
		}
	}
	if diff := cmp.Diff([]string{"cm1=1", "cm3=1", "cm5=1"}, got); diff != "" || pages != 2 {
		t.Errorf("got %d pages, want 2; items (-want +got):\n%s", pages, diff)
	}
}

// cmPointerList is a list whose Items are pointers.
type cmPointerList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []*corev1.ConfigMap `json:"items"`
}

func (l *cmPointerList) DeepCopyObject() runtime.Object {
	out := &cmPointerList{TypeMeta: l.TypeMeta}
	l.ListMeta.DeepCopyInto(&out.ListMeta)
	for _, cm := range l.Items {
		out.Items = append(out.Items, cm.DeepCopy())
	}
	return out
}

// TestListsAreCopies: what a list returns may be modified (deep copies),
// or its items' own fields may (ShareObjects), without the cache seeing it.
func TestListsAreCopies(t *testing.T) {
	client := startEtcd(t)
	for _, share := range []bool{false, true} {
		for _, pointers := range []bool{false, true} {
			t.Run(fmt.Sprintf("share=%v,pointers=%v", share, pointers), func(t *testing.T) {
				store := newEtcdStore(t, client, time.Hour)
				c := startCacher(t, store, 10*time.Second, configMaps(cmPrefix))
				c.share = share
				ctx := context.Background()
				ns := fmt.Sprintf("share-%v-pointers-%v", share, pointers) // one per subtest
				prefix := cmPrefix + ns + "/"
				cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "a", Namespace: ns}, Data: map[string]string{"v": "1"}}
				if err := c.Create(ctx, prefix+"a", cm, &corev1.ConfigMap{}, storage.WriteOptions{}); err != nil {
					t.Fatalf("Create: %v", err)
				}
				var list runtime.Object = &corev1.ConfigMapList{}
				if pointers {
					list = &cmPointerList{}
				}
				if err := c.GetList(ctx, prefix, storage.ListOptions{}, list); err != nil {
					t.Fatalf("GetList: %v", err)
				}
				var got *corev1.ConfigMap
				if pointers {
					got = list.(*cmPointerList).Items[0]
				} else {
					got = &list.(*corev1.ConfigMapList).Items[0]
				}
				want := got.DeepCopy()
				got.Name, got.ResourceVersion = "changed", "1"
				if !share {
					got.Data["v"] = "changed"
					got.Labels = map[string]string{"x": "y"}
				}
				again := &corev1.ConfigMapList{}
				if err := c.GetList(ctx, prefix, storage.ListOptions{ResourceVersion: "0"}, again); err != nil {
					t.Fatalf("GetList: %v", err)
				}
				if diff := cmp.Diff(want, &again.Items[0]); diff != "" {
					t.Errorf("the cache changed with a returned list (-want +got):\n%s", diff)
				}
			})
		}
	}
}

// TestNotRunningGoesToStore: before Run has synced, the store answers.
func TestNotRunningGoesToStore(t *testing.T) {
	client := startEtcd(t)
	p := &probe{Interface: newEtcdStore(t, client, time.Hour)}
	c, err := New(Config{Store: p, Resources: []Resource{configMaps(cmPrefix)}, Logger: quietLogger()})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	for _, rv := range []string{"", "0", "1"} {
		if err := c.GetList(context.Background(), cmPrefix, storage.ListOptions{ResourceVersion: rv}, &corev1.ConfigMapList{}); err != nil {
			t.Fatalf("GetList: %v", err)
		}
	}
	if got := p.lists.Load(); got != 3 {
		t.Errorf("the store answered %d lists, want all 3", got)
	}
	if c.HasSynced() {
		t.Errorf("HasSynced before Run, want false")
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

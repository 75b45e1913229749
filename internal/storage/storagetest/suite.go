package storagetest

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"

	"github.com/svcnet/svcnet/internal/storage"
)

// Run runs the conformance suite. newStore is called once per subtest; it
// may return stores sharing one backend, since every subtest uses its own
// key prefix. Subtests run one after another.
func Run(t *testing.T, newStore func(t *testing.T) storage.Interface) {
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, e *env)
	}{
		{"Create", testCreate},
		{"CreateReservations", testCreateReservations},
		{"ConcurrentReservations", testConcurrentReservations},
		{"GuaranteedUpdate", testGuaranteedUpdate},
		{"GuaranteedUpdateRace", testGuaranteedUpdateRace},
		{"GuaranteedUpdateReservations", testGuaranteedUpdateReservations},
		{"Preconditions", testPreconditions},
		{"Delete", testDelete},
		{"GetList", testGetList},
		{"GetListResourceVersion", testGetListResourceVersion},
		{"GetListPagination", testGetListPagination},
		{"CountAndRevision", testCountAndRevision},
		{"ReserveRelease", testReserveRelease},
		{"WatchFromResourceVersion", testWatchFromResourceVersion},
		{"WatchInitialEvents", testWatchInitialEvents},
		{"WatchSendInitialEvents", testWatchSendInitialEvents},
		{"WatchBookmarks", testWatchBookmarks},
		{"WatchPredicate", testWatchPredicate},
		{"WatchSingleKey", testWatchSingleKey},
		{"WatchStop", testWatchStop},
		{"Compaction", testCompaction},
		{"TTL", testTTL},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, newEnv(t, newStore))
		})
	}
}

func testCreate(t *testing.T, e *env) {
	in := configMap("a", map[string]string{"app": "x"}, "1")
	out := &corev1.ConfigMap{}
	if err := e.store.Create(e.ctx, e.key("a"), in, out, storage.WriteOptions{}); err != nil {
		t.Fatalf("Create: %v", err)
	}
	if in.ResourceVersion != "" {
		t.Errorf("Create changed the input's resourceVersion to %q", in.ResourceVersion)
	}
	if out.ResourceVersion == "" {
		t.Fatalf("got empty resourceVersion, want the write revision")
	}
	want := in.DeepCopy()
	want.ResourceVersion = out.ResourceVersion
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("Create returned (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want, e.get("a")); diff != "" {
		t.Errorf("Get returned (-want +got):\n%s", diff)
	}
	rev, err := strconv.ParseInt(out.ResourceVersion, 10, 64)
	if err != nil || rev != e.revision() {
		t.Errorf("got resourceVersion %q, want the current revision %d", out.ResourceVersion, e.revision())
	}

	for _, tc := range []struct {
		name  string
		key   string
		obj   runtime.Object
		check func(error) bool
	}{
		{"exists", e.key("a"), configMap("a", nil, "2"), storage.IsExists},
		{"resourceVersion set", e.key("b"), func() runtime.Object {
			cm := configMap("b", nil, "")
			cm.ResourceVersion = "5"
			return cm
		}(), func(err error) bool { return err != nil }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := e.store.Create(e.ctx, tc.key, tc.obj, &corev1.ConfigMap{}, storage.WriteOptions{})
			if !tc.check(err) {
				t.Errorf("got error %v, want the %s error", err, tc.name)
			}
		})
	}
	if diff := cmp.Diff(want, e.get("a")); diff != "" {
		t.Errorf("failed create changed the object (-want +got):\n%s", diff)
	}
	if err := e.store.Get(e.ctx, e.key("missing"), &corev1.ConfigMap{}); !storage.IsNotFound(err) {
		t.Errorf("Get missing: got %v, want ErrNotFound", err)
	}
}

func testCreateReservations(t *testing.T, e *env) {
	ip1, ip2, old := e.reservation("ip1"), e.reservation("ip2"), e.reservation("old")
	if err := e.store.Reserve(e.ctx, old, e.key("a")); err != nil {
		t.Fatalf("Reserve: %v", err)
	}
	err := e.store.Create(e.ctx, e.key("a"), configMap("a", nil, ""), &corev1.ConfigMap{},
		storage.WriteOptions{Reserve: []string{ip1, ip2}, Release: []string{old, e.reservation("never-held")}})
	if err != nil {
		t.Fatalf("Create with reservations: %v", err)
	}
	got, _, err := e.store.Reservations(e.ctx, e.reservation(""))
	if err != nil {
		t.Fatalf("Reservations: %v", err)
	}
	want := map[string]string{ip1: e.key("a"), ip2: e.key("a")}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("reservations (-want +got):\n%s", diff)
	}

	// b wants a free key and a taken one: nothing of it may be written.
	ip3 := e.reservation("ip3")
	err = e.store.Create(e.ctx, e.key("b"), configMap("b", nil, ""), &corev1.ConfigMap{},
		storage.WriteOptions{Reserve: []string{ip3, ip2}, Release: []string{ip1}})
	var re *storage.ReservedError
	if !errors.As(err, &re) || re.Key != ip2 || !storage.IsReserved(err) {
		t.Fatalf("got error %v, want a ReservedError for %s", err, ip2)
	}
	if err := e.store.Get(e.ctx, e.key("b"), &corev1.ConfigMap{}); !storage.IsNotFound(err) {
		t.Errorf("Get b after failed create: got %v, want ErrNotFound", err)
	}
	got, _, err = e.store.Reservations(e.ctx, e.reservation(""))
	if err != nil {
		t.Fatalf("Reservations: %v", err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("reservations after failed create (-want +got):\n%s", diff)
	}

	// Existing object and taken reservation: the object wins.
	err = e.store.Create(e.ctx, e.key("a"), configMap("a", nil, ""), &corev1.ConfigMap{},
		storage.WriteOptions{Reserve: []string{ip1}})
	if !storage.IsExists(err) {
		t.Errorf("got %v, want ErrExists", err)
	}
}

func testConcurrentReservations(t *testing.T, e *env) {
	const writers = 8
	shared := e.reservation("shared")
	errs := make([]error, writers)
	var wg sync.WaitGroup
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("w%d", i)
			errs[i] = e.store.Create(e.ctx, e.key(name), configMap(name, nil, ""), &corev1.ConfigMap{},
				storage.WriteOptions{Reserve: []string{shared}})
		}()
	}
	wg.Wait()
	winners := 0
	winner := ""
	for i, err := range errs {
		switch {
		case err == nil:
			winners++
			winner = e.key(fmt.Sprintf("w%d", i))
		case !storage.IsReserved(err):
			t.Errorf("writer %d: got %v, want nil or ErrReserved", i, err)
		}
	}
	if winners != 1 {
		t.Fatalf("got %d winners, want exactly 1", winners)
	}
	if n := len(e.list(storage.ListOptions{}).Items); n != 1 {
		t.Errorf("got %d objects, want 1", n)
	}
	got, _, err := e.store.Reservations(e.ctx, shared)
	if err != nil {
		t.Fatalf("Reservations: %v", err)
	}
	if diff := cmp.Diff(map[string]string{shared: winner}, got); diff != "" {
		t.Errorf("reservation (-want +got):\n%s", diff)
	}
}

func testGuaranteedUpdate(t *testing.T, e *env) {
	created := e.create("a", nil, "1")
	updated := e.update("a", nil, "2")
	if updated.ResourceVersion == created.ResourceVersion {
		t.Errorf("update kept resourceVersion %s, want a new one", updated.ResourceVersion)
	}
	if diff := cmp.Diff(updated, e.get("a")); diff != "" {
		t.Errorf("Get after update (-want +got):\n%s", diff)
	}

	t.Run("no-op keeps revision", func(t *testing.T) {
		out := &corev1.ConfigMap{}
		err := e.store.GuaranteedUpdate(e.ctx, e.key("a"), out, false, nil,
			func(cur runtime.Object) (runtime.Object, storage.WriteOptions, error) {
				return cur, storage.WriteOptions{}, nil
			})
		if err != nil {
			t.Fatalf("GuaranteedUpdate: %v", err)
		}
		if out.ResourceVersion != updated.ResourceVersion {
			t.Errorf("got resourceVersion %s, want unchanged %s", out.ResourceVersion, updated.ResourceVersion)
		}
	})
	t.Run("not found", func(t *testing.T) {
		err := e.store.GuaranteedUpdate(e.ctx, e.key("missing"), &corev1.ConfigMap{}, false, nil,
			func(cur runtime.Object) (runtime.Object, storage.WriteOptions, error) {
				t.Errorf("tryUpdate called for a missing key")
				return cur, storage.WriteOptions{}, nil
			})
		if !storage.IsNotFound(err) {
			t.Errorf("got %v, want ErrNotFound", err)
		}
	})
	t.Run("ignoreNotFound creates", func(t *testing.T) {
		out := &corev1.ConfigMap{}
		err := e.store.GuaranteedUpdate(e.ctx, e.key("new"), out, true, nil,
			func(cur runtime.Object) (runtime.Object, storage.WriteOptions, error) {
				if diff := cmp.Diff(&corev1.ConfigMap{}, cur); diff != "" {
					t.Errorf("tryUpdate got a non-zero object (-want +got):\n%s", diff)
				}
				return configMap("new", nil, "n"), storage.WriteOptions{}, nil
			})
		if err != nil {
			t.Fatalf("GuaranteedUpdate: %v", err)
		}
		if got := e.get("new"); got.Data["v"] != "n" || got.ResourceVersion != out.ResourceVersion {
			t.Errorf("got %v at %s, want data n at %s", got.Data, got.ResourceVersion, out.ResourceVersion)
		}
	})
	t.Run("tryUpdate error passes through", func(t *testing.T) {
		boom := errors.New("boom")
		err := e.store.GuaranteedUpdate(e.ctx, e.key("a"), &corev1.ConfigMap{}, false, nil,
			func(runtime.Object) (runtime.Object, storage.WriteOptions, error) {
				return nil, storage.WriteOptions{}, boom
			})
		if err != boom {
			t.Errorf("got %v, want the tryUpdate error itself", err)
		}
	})
	t.Run("stale resourceVersion is a conflict", func(t *testing.T) {
		err := e.store.GuaranteedUpdate(e.ctx, e.key("a"), &corev1.ConfigMap{}, false, nil,
			func(cur runtime.Object) (runtime.Object, storage.WriteOptions, error) {
				if cur.(*corev1.ConfigMap).ResourceVersion != created.ResourceVersion {
					return nil, storage.WriteOptions{}, storage.ErrConflict
				}
				return cur, storage.WriteOptions{}, nil
			})
		if !storage.IsConflict(err) {
			t.Errorf("got %v, want ErrConflict", err)
		}
	})
}

func testGuaranteedUpdateRace(t *testing.T, e *env) {
	e.create("a", nil, "0")
	calls := 0
	out := &corev1.ConfigMap{}
	err := e.store.GuaranteedUpdate(e.ctx, e.key("a"), out, false, nil,
		func(cur runtime.Object) (runtime.Object, storage.WriteOptions, error) {
			calls++
			if calls == 1 {
				e.update("a", nil, "other writer")
			}
			cm := cur.(*corev1.ConfigMap).DeepCopy()
			cm.Data["v"] += "+mine"
			return cm, storage.WriteOptions{}, nil
		})
	if err != nil {
		t.Fatalf("GuaranteedUpdate: %v", err)
	}
	if calls != 2 {
		t.Errorf("got %d tryUpdate calls, want 2", calls)
	}
	if got, want := e.get("a").Data["v"], "other writer+mine"; got != want {
		t.Errorf("got data %q, want %q", got, want)
	}

	// Concurrent increments: none may be lost.
	e.create("counter", nil, "0")
	const writers, each = 4, 5
	var wg sync.WaitGroup
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				err := e.store.GuaranteedUpdate(e.ctx, e.key("counter"), &corev1.ConfigMap{}, false, nil,
					func(cur runtime.Object) (runtime.Object, storage.WriteOptions, error) {
						cm := cur.(*corev1.ConfigMap).DeepCopy()
						n, _ := strconv.Atoi(cm.Data["v"])
						cm.Data["v"] = strconv.Itoa(n + 1)
						return cm, storage.WriteOptions{}, nil
					})
				if err != nil {
					t.Errorf("GuaranteedUpdate: %v", err)
				}
			}
		}()
	}
	wg.Wait()
	if got, want := e.get("counter").Data["v"], strconv.Itoa(writers*each); got != want {
		t.Errorf("got counter %s, want %s", got, want)
	}
}

func testGuaranteedUpdateReservations(t *testing.T, e *env) {
	ip1, ip2, taken := e.reservation("ip1"), e.reservation("ip2"), e.reservation("taken")
	if err := e.store.Create(e.ctx, e.key("a"), configMap("a", nil, "1"), &corev1.ConfigMap{},
		storage.WriteOptions{Reserve: []string{ip1}}); err != nil {
		t.Fatalf("Create: %v", err)
	}
	if err := e.store.Reserve(e.ctx, taken, "someone"); err != nil {
		t.Fatalf("Reserve: %v", err)
	}
	before := e.get("a")
	change := func(reserve, release []string) error {
		return e.store.GuaranteedUpdate(e.ctx, e.key("a"), &corev1.ConfigMap{}, false, nil,
			func(cur runtime.Object) (runtime.Object, storage.WriteOptions, error) {
				cm := cur.(*corev1.ConfigMap).DeepCopy()
				cm.Data["v"] += "x"
				return cm, storage.WriteOptions{Reserve: reserve, Release: release}, nil
			})
	}
	err := change([]string{ip2, taken}, []string{ip1})
	var re *storage.ReservedError
	if !errors.As(err, &re) || re.Key != taken {
		t.Fatalf("got %v, want a ReservedError for %s", err, taken)
	}
	if diff := cmp.Diff(before, e.get("a")); diff != "" {
		t.Errorf("failed update changed the object (-want +got):\n%s", diff)
	}
	if err := change([]string{ip2}, []string{ip1}); err != nil {
		t.Fatalf("GuaranteedUpdate moving the reservation: %v", err)
	}
	got, _, err := e.store.Reservations(e.ctx, e.reservation(""))
	if err != nil {
		t.Fatalf("Reservations: %v", err)
	}
	want := map[string]string{ip2: e.key("a"), taken: "someone"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("reservations (-want +got):\n%s", diff)
	}
}

func testPreconditions(t *testing.T, e *env) {
	cm := e.create("a", nil, "1")
	uid, otherUID := cm.UID, types.UID("other")
	rv, otherRV := cm.ResourceVersion, "1"
	for _, tc := range []struct {
		name string
		pre  *storage.Preconditions
		ok   bool
	}{
		{"none", nil, true},
		{"matching", &storage.Preconditions{UID: &uid, ResourceVersion: &rv}, true},
		{"wrong UID", &storage.Preconditions{UID: &otherUID}, false},
		{"wrong resourceVersion", &storage.Preconditions{ResourceVersion: &otherRV}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := e.store.GuaranteedUpdate(e.ctx, e.key("a"), &corev1.ConfigMap{}, false, tc.pre,
				func(cur runtime.Object) (runtime.Object, storage.WriteOptions, error) {
					return cur, storage.WriteOptions{}, nil
				})
			if tc.ok && err != nil {
				t.Errorf("GuaranteedUpdate: got %v, want nil", err)
			}
			if !tc.ok && !storage.IsInvalidPrecondition(err) {
				t.Errorf("GuaranteedUpdate: got %v, want ErrInvalidPrecondition", err)
			}
			if tc.ok {
				return
			}
			err = e.store.Delete(e.ctx, e.key("a"), &corev1.ConfigMap{}, tc.pre, nil, storage.WriteOptions{})
			if !storage.IsInvalidPrecondition(err) {
				t.Errorf("Delete: got %v, want ErrInvalidPrecondition", err)
			}
		})
	}
	e.get("a")
}

func testDelete(t *testing.T, e *env) {
	ip := e.reservation("ip")
	if err := e.store.Create(e.ctx, e.key("a"), configMap("a", nil, "1"), &corev1.ConfigMap{},
		storage.WriteOptions{Reserve: []string{ip}}); err != nil {
		t.Fatalf("Create: %v", err)
	}
	last := e.update("a", nil, "2")

	refuse := errors.New("refused")
	err := e.store.Delete(e.ctx, e.key("a"), &corev1.ConfigMap{}, nil,
		func(cur runtime.Object) error {
			if got := cur.(*corev1.ConfigMap).Data["v"]; got != "2" {
				t.Errorf("validate got data %q, want 2", got)
			}
			return refuse
		}, storage.WriteOptions{Release: []string{ip}})
	if err != refuse {
		t.Fatalf("got %v, want the validate error", err)
	}
	e.get("a")

	out := &corev1.ConfigMap{}
	if err := e.store.Delete(e.ctx, e.key("a"), out, nil, func(runtime.Object) error { return nil },
		storage.WriteOptions{Release: []string{ip}}); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if diff := cmp.Diff(last, out); diff != "" {
		t.Errorf("Delete returned (-want +got):\n%s", diff)
	}
	if err := e.store.Get(e.ctx, e.key("a"), &corev1.ConfigMap{}); !storage.IsNotFound(err) {
		t.Errorf("Get after delete: got %v, want ErrNotFound", err)
	}
	got, _, err := e.store.Reservations(e.ctx, e.reservation(""))
	if err != nil {
		t.Fatalf("Reservations: %v", err)
	}
	if len(got) != 0 {
		t.Errorf("got reservations %v after delete, want none", got)
	}
	if err := e.store.Delete(e.ctx, e.key("a"), &corev1.ConfigMap{}, nil, nil, storage.WriteOptions{}); !storage.IsNotFound(err) {
		t.Errorf("second Delete: got %v, want ErrNotFound", err)
	}
}

func testGetList(t *testing.T, e *env) {
	for _, n := range []string{"c", "a", "b"} {
		e.create(n, map[string]string{"group": map[string]string{"a": "x", "b": "y", "c": "x"}[n]}, n)
	}
	// A key that only shares a string prefix must not be listed.
	if err := e.store.Create(e.ctx, e.prefix[:len(e.prefix)-1]+"-other/z", configMap("z", nil, ""), &corev1.ConfigMap{},
		storage.WriteOptions{}); err != nil {
		t.Fatalf("Create: %v", err)
	}
	list := e.list(storage.ListOptions{})
	if diff := cmp.Diff([]string{"a", "b", "c"}, names(list)); diff != "" {
		t.Errorf("names (-want +got):\n%s", diff)
	}
	if want := strconv.FormatInt(e.revision(), 10); list.ResourceVersion != want {
		t.Errorf("got list resourceVersion %s, want %s", list.ResourceVersion, want)
	}
	for _, item := range list.Items {
		if diff := cmp.Diff(e.get(item.Name), &item); diff != "" {
			t.Errorf("item %s differs from Get (-want +got):\n%s", item.Name, diff)
		}
	}
	group := func(v string) func(runtime.Object) (bool, error) {
		return func(obj runtime.Object) (bool, error) {
			return obj.(*corev1.ConfigMap).Labels["group"] == v, nil
		}
	}
	if diff := cmp.Diff([]string{"a", "c"}, names(e.list(storage.ListOptions{Predicate: group("x")}))); diff != "" {
		t.Errorf("filtered names (-want +got):\n%s", diff)
	}
	empty := e.list(storage.ListOptions{Predicate: group("none")})
	if empty.Items == nil || len(empty.Items) != 0 {
		t.Errorf("got items %v, want an empty non-nil slice", empty.Items)
	}

	// Typed lists of another kind, beside the ConfigMaps as kube-apiserver's
	// resources are (a store may cache one kind per prefix).
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "default"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "pause"}}}}
	podPrefix := e.prefix[:len(e.prefix)-1] + "-pods/"
	if err := e.store.Create(e.ctx, podPrefix+"p", pod, &corev1.Pod{}, storage.WriteOptions{}); err != nil {
		t.Fatalf("Create pod: %v", err)
	}
	pods := &corev1.PodList{}
	if err := e.store.GetList(e.ctx, podPrefix, storage.ListOptions{}, pods); err != nil {
		t.Fatalf("GetList pods: %v", err)
	}
	if len(pods.Items) != 1 || pods.Items[0].Spec.Containers[0].Image != "pause" {
		t.Errorf("got pods %+v, want the one pod", pods.Items)
	}
}

func testGetListResourceVersion(t *testing.T, e *env) {
	e.create("a", nil, "1")
	rev1 := strconv.FormatInt(e.revision(), 10)
	e.update("a", nil, "2")
	e.create("b", nil, "1")
	current := e.revision()
	future := strconv.FormatInt(current+100, 10)

	// "newest" comes first: a store serving from a cache has caught up with
	// the current revision after it, so the reads below that may be
	// served stale ("any", "not older than") see the writes above.
	for _, tc := range []struct {
		name     string
		opts     storage.ListOptions
		want     []string // name=data
		wantRV   string
		wantGone bool
		wantErr  bool
	}{
		{name: "newest", opts: storage.ListOptions{}, want: []string{"a=2", "b=1"}},
		{name: "any", opts: storage.ListOptions{ResourceVersion: "0"}, want: []string{"a=2", "b=1"}},
		{name: "exact old", opts: storage.ListOptions{ResourceVersion: rev1, ResourceVersionMatch: "Exact"},
			want: []string{"a=1"}, wantRV: rev1},
		{name: "not older than old", opts: storage.ListOptions{ResourceVersion: rev1, ResourceVersionMatch: "NotOlderThan"},
			want: []string{"a=2", "b=1"}},
		{name: "legacy paging reads exactly", opts: storage.ListOptions{ResourceVersion: rev1, Limit: 10},
			want: []string{"a=1"}, wantRV: rev1},
		{name: "not older than future", opts: storage.ListOptions{ResourceVersion: future, ResourceVersionMatch: "NotOlderThan"},
			wantErr: true},
		{name: "exact future", opts: storage.ListOptions{ResourceVersion: future, ResourceVersionMatch: "Exact"},
			wantErr: true},
		{name: "invalid", opts: storage.ListOptions{ResourceVersion: "abc"}, wantErr: true},
		{name: "bad continue", opts: storage.ListOptions{Continue: "!!"}, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			list := &corev1.ConfigMapList{}
			err := e.store.GetList(e.ctx, e.prefix, tc.opts, list)
			if tc.wantErr {
				if err == nil || storage.IsGone(err) {
					t.Errorf("got %v, want a non-410 error", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("GetList: %v", err)
			}
			var got []string
			for _, cm := range list.Items {
				got = append(got, cm.Name+"="+cm.Data["v"])
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("items (-want +got):\n%s", diff)
			}
			wantRV := tc.wantRV
			if wantRV == "" {
				wantRV = strconv.FormatInt(current, 10)
			}
			if list.ResourceVersion != wantRV {
				t.Errorf("got list resourceVersion %s, want %s", list.ResourceVersion, wantRV)
			}
		})
	}
}

func testGetListPagination(t *testing.T, e *env) {
	var all []string
	for i := range 7 {
		n := fmt.Sprintf("cm%02d", i)
		all = append(all, n)
		e.create(n, map[string]string{"even": strconv.FormatBool(i%2 == 0)}, "")
	}
	even := func(obj runtime.Object) (bool, error) { return obj.(*corev1.ConfigMap).Labels["even"] == "true", nil }
	for _, tc := range []struct {
		name      string
		limit     int64
		pred      func(runtime.Object) (bool, error)
		want      []string
		wantPages int
	}{
		{"limit 3", 3, nil, all, 3},
		{"limit 7", 7, nil, all, 1},
		{"limit 1", 1, nil, all, 7},
		{"limit 2 filtered", 2, even, []string{"cm00", "cm02", "cm04", "cm06"}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			token, pages := "", 0
			listRV := ""
			for {
				list := e.list(storage.ListOptions{Limit: tc.limit, Continue: token, Predicate: tc.pred})
				pages++
				got = append(got, names(list)...)
				if listRV == "" {
					listRV = list.ResourceVersion
				} else if list.ResourceVersion != listRV {
					t.Errorf("page %d at resourceVersion %s, want %s like the first", pages, list.ResourceVersion, listRV)
				}
				if tc.pred == nil && list.Continue != "" {
					if list.RemainingItemCount == nil {
						t.Errorf("page %d: no remainingItemCount", pages)
					} else if want := int64(len(all) - len(got)); *list.RemainingItemCount != want {
						t.Errorf("page %d: got remainingItemCount %d, want %d", pages, *list.RemainingItemCount, want)
					}
				}
				if list.Continue == "" {
					break
				}
				token = list.Continue
				if pages == 1 {
					// Writes after the first page are not seen by later pages.
					e.create("zz-late", nil, "")
					defer e.delete("zz-late")
				}
				if pages > 20 {
					t.Fatalf("pagination does not end")
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("names (-want +got):\n%s", diff)
			}
			if pages != tc.wantPages {
				t.Errorf("got %d pages, want %d", pages, tc.wantPages)
			}
		})
	}
	t.Run("continue with resourceVersion", func(t *testing.T) {
		first := e.list(storage.ListOptions{Limit: 1})
		err := e.store.GetList(e.ctx, e.prefix, storage.ListOptions{Limit: 1, Continue: first.Continue, ResourceVersion: "5"},
			&corev1.ConfigMapList{})
		if err == nil {
			t.Errorf("got nil error, want one for continue with a resourceVersion")
		}
	})
}

func testCountAndRevision(t *testing.T, e *env) {
	n, err := e.store.Count(e.ctx, e.prefix)
	if err != nil || n != 0 {
		t.Fatalf("Count: got %d, %v, want 0, nil", n, err)
	}
	before := e.revision()
	e.create("a", nil, "")
	e.create("b", nil, "")
	if n, err = e.store.Count(e.ctx, e.prefix); err != nil || n != 2 {
		t.Errorf("Count: got %d, %v, want 2, nil", n, err)
	}
	if after := e.revision(); after != before+2 {
		t.Errorf("got revision %d after two writes from %d, want %d", after, before, before+2)
	}
}

func testReserveRelease(t *testing.T, e *env) {
	k := e.reservation("k")
	if err := e.store.Reserve(e.ctx, k, "owner1"); err != nil {
		t.Fatalf("Reserve: %v", err)
	}
	var re *storage.ReservedError
	if err := e.store.Reserve(e.ctx, k, "owner2"); !errors.As(err, &re) || re.Key != k {
		t.Errorf("second Reserve: got %v, want ReservedError for %s", err, k)
	}
	steps := []struct {
		name, owner string
		want        map[string]string
	}{
		{"other owner keeps it", "owner2", map[string]string{k: "owner1"}},
		{"owner releases", "owner1", map[string]string{}},
		{"missing is fine", "owner1", map[string]string{}},
	}
	for _, st := range steps {
		if err := e.store.Release(e.ctx, k, st.owner); err != nil {
			t.Fatalf("%s: Release: %v", st.name, err)
		}
		got, rev, err := e.store.Reservations(e.ctx, e.reservation(""))
		if err != nil {
			t.Fatalf("Reservations: %v", err)
		}
		if diff := cmp.Diff(st.want, got); diff != "" {
			t.Errorf("%s: reservations (-want +got):\n%s", st.name, diff)
		}
		if rev <= 0 {
			t.Errorf("%s: got revision %d, want > 0", st.name, rev)
		}
	}
	if err := e.store.Reserve(e.ctx, k, "owner3"); err != nil {
		t.Fatalf("Reserve: %v", err)
	}
	if err := e.store.Release(e.ctx, k, ""); err != nil {
		t.Fatalf("Release by anyone: %v", err)
	}
	if got, _, _ := e.store.Reservations(e.ctx, k); len(got) != 0 {
		t.Errorf("got %v after Release by anyone, want nothing", got)
	}
}

package storagetest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/svcnet/svcnet/internal/storage"
)

// Compactor is implemented by stores that can discard old revisions on
// demand; the compaction tests run only for them.
type Compactor interface {
	Compact(ctx context.Context, rev int64) error
}

// eventTimeout bounds how long a test waits for one watch event.
const eventTimeout = 10 * time.Second

// env is the state of one subtest: a store and a key prefix no other
// subtest uses, so implementations may share one backend.
type env struct {
	t      *testing.T
	ctx    context.Context
	store  storage.Interface
	prefix string // ends in "/"
}

func newEnv(t *testing.T, newStore func(t *testing.T) storage.Interface) *env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return &env{
		t:      t,
		ctx:    ctx,
		store:  newStore(t),
		prefix: Prefix(t),
	}
}

// Prefix is the key prefix (ending in "/") below which the subtest t keeps
// its ConfigMaps, for stores configured per prefix (a cache of one kind):
// the newStore of Run may call it with the t it is given. Objects of other
// kinds live beside it, never below.
func Prefix(t testing.TB) string {
	name := strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())
	return fmt.Sprintf("/registry/storagetest/%s/", name)
}

func (e *env) key(name string) string { return e.prefix + name }

// reservation returns a reservation key outside the object prefix.
func (e *env) reservation(name string) string {
	return "/registry/storagetest-reservations" + e.prefix + name
}

func configMap(name string, labels map[string]string, data string) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{
			Name:      name,
			Namespace: "default",
			UID:       types.UID("uid-" + name),
			Labels:    labels,
		},
		Data: map[string]string{"v": data},
	}
}

// create stores a ConfigMap and returns it as stored.
func (e *env) create(name string, labels map[string]string, data string) *corev1.ConfigMap {
	e.t.Helper()
	out := &corev1.ConfigMap{}
	if err := e.store.Create(e.ctx, e.key(name), configMap(name, labels, data), out, storage.WriteOptions{}); err != nil {
		e.t.Fatalf("Create %s: %v", name, err)
	}
	return out
}

// update replaces the data (and labels, when not nil) of a ConfigMap.
func (e *env) update(name string, labels map[string]string, data string) *corev1.ConfigMap {
	e.t.Helper()
	out := &corev1.ConfigMap{}
	err := e.store.GuaranteedUpdate(e.ctx, e.key(name), out, false, nil,
		func(cur runtime.Object) (runtime.Object, storage.WriteOptions, error) {
			cm := cur.(*corev1.ConfigMap).DeepCopy()
			cm.Data = map[string]string{"v": data}
			if labels != nil {
				cm.Labels = labels
			}
			return cm, storage.WriteOptions{}, nil
		})
	if err != nil {
		e.t.Fatalf("GuaranteedUpdate %s: %v", name, err)
	}
	return out
}

func (e *env) delete(name string) *corev1.ConfigMap {
	e.t.Helper()
	out := &corev1.ConfigMap{}
	if err := e.store.Delete(e.ctx, e.key(name), out, nil, nil, storage.WriteOptions{}); err != nil {
		e.t.Fatalf("Delete %s: %v", name, err)
	}
	return out
}

func (e *env) get(name string) *corev1.ConfigMap {
	e.t.Helper()
	out := &corev1.ConfigMap{}
	if err := e.store.Get(e.ctx, e.key(name), out); err != nil {
		e.t.Fatalf("Get %s: %v", name, err)
	}
	return out
}

func (e *env) list(opts storage.ListOptions) *corev1.ConfigMapList {
	e.t.Helper()
	out := &corev1.ConfigMapList{}
	if err := e.store.GetList(e.ctx, e.prefix, opts, out); err != nil {
		e.t.Fatalf("GetList %+v: %v", opts, err)
	}
	return out
}

func (e *env) revision() int64 {
	e.t.Helper()
	rev, err := e.store.CurrentRevision(e.ctx)
	if err != nil {
		e.t.Fatalf("CurrentRevision: %v", err)
	}
	return rev
}

func (e *env) watch(opts storage.WatchOptions) watch.Interface {
	e.t.Helper()
	if opts.NewObject == nil {
		opts.NewObject = func() runtime.Object { return &corev1.ConfigMap{} }
	}
	key := e.prefix
	if !opts.Recursive {
		e.t.Fatalf("use watchKey for single keys")
	}
	w, err := e.store.Watch(e.ctx, key, opts)
	if err != nil {
		e.t.Fatalf("Watch %+v: %v", opts, err)
	}
	e.t.Cleanup(w.Stop)
	return w
}

// next returns the next event, skipping periodic bookmarks unless
// wantBookmarks.
func next(t *testing.T, w watch.Interface, wantBookmarks bool) watch.Event {
	t.Helper()
	timer := time.NewTimer(eventTimeout)
	defer timer.Stop()
	for {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				t.Fatalf("watch closed, want an event")
			}
			if ev.Type == watch.Bookmark && !wantBookmarks {
				continue
			}
			return ev
		case <-timer.C:
			t.Fatalf("no watch event after %s", eventTimeout)
		}
	}
}

// summary is what the tests compare of an event.
type summary struct {
	Type            watch.EventType
	Name            string
	Data            string
	ResourceVersion string
}

func summarize(t *testing.T, ev watch.Event) summary {
	t.Helper()
	s := summary{Type: ev.Type}
	if cm, ok := ev.Object.(*corev1.ConfigMap); ok {
		s.Name, s.Data, s.ResourceVersion = cm.Name, cm.Data["v"], cm.ResourceVersion
		return s
	}
	acc, err := meta.Accessor(ev.Object)
	if err != nil {
		t.Fatalf("event object %T: %v", ev.Object, err)
	}
	s.Name, s.ResourceVersion = acc.GetName(), acc.GetResourceVersion()
	return s
}

// waitClosed waits until the result channel of w is closed.
func waitClosed(t *testing.T, w watch.Interface) {
	t.Helper()
	timer := time.NewTimer(eventTimeout)
	defer timer.Stop()
	for {
		select {
		case _, ok := <-w.ResultChan():
			if !ok {
				return
			}
		case <-timer.C:
			t.Fatalf("watch channel still open after %s", eventTimeout)
		}
	}
}

func rvOf(obj metav1.Object) string { return obj.GetResourceVersion() }

func names(list *corev1.ConfigMapList) []string {
	out := []string{}
	for _, cm := range list.Items {
		out = append(out, cm.Name)
	}
	return out
}

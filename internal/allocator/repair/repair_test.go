package repair

import (
	"context"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/svcnet/svcnet/internal/allocator/ipallocator"
	"github.com/svcnet/svcnet/internal/allocator/portallocator"
	"github.com/svcnet/svcnet/internal/storage"
)

// fakeStore holds Services and reservation keys in memory, implementing
// the part of storage.Interface the repair loop uses.
type fakeStore struct {
	storage.Interface
	mu   sync.Mutex
	svcs map[string]*corev1.Service
	res  map[string]string
}

func newFakeStore() *fakeStore {
	return &fakeStore{svcs: map[string]*corev1.Service{}, res: map[string]string{}}
}

func (f *fakeStore) GetList(_ context.Context, prefix string, _ storage.ListOptions, listObj runtime.Object) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	list := listObj.(*corev1.ServiceList)
	keys := make([]string, 0, len(f.svcs))
	for k := range f.svcs {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		list.Items = append(list.Items, *f.svcs[k].DeepCopy())
	}
	return nil
}

func (f *fakeStore) Reservations(_ context.Context, prefix string) (map[string]string, int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]string{}
	for k, v := range f.res {
		if strings.HasPrefix(k, prefix) {
			out[k] = v
		}
	}
	return out, 1, nil
}

func (f *fakeStore) Reserve(_ context.Context, key, owner string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.res[key]; ok {
		return &storage.ReservedError{Key: key}
	}
	f.res[key] = owner
	return nil
}

func (f *fakeStore) Release(_ context.Context, key, owner string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if cur, ok := f.res[key]; ok && (owner == "" || cur == owner) {
		delete(f.res, key)
	}
	return nil
}

func (f *fakeStore) put(s *corev1.Service) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.svcs[ServicePrefix+s.Namespace+"/"+s.Name] = s
}

func (f *fakeStore) reservations() map[string]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]string{}
	for k, v := range f.res {
		out[k] = v
	}
	return out
}

func ipKey(s string) string { return ipallocator.Key(netip.MustParseAddr(s)) }

func owner(name string) string { return ServicePrefix + "default/" + name }

func nodePortService(name, ip string, nodePort int32) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: corev1.ServiceSpec{
			Type: corev1.ServiceTypeNodePort, ClusterIP: ip, ClusterIPs: []string{ip},
			Ports: []corev1.ServicePort{{Port: 80, NodePort: nodePort, Protocol: corev1.ProtocolTCP}},
		},
	}
}

type fixture struct {
	store *fakeStore
	ips   *ipallocator.Allocator
	ports *portallocator.Allocator
	r     *Repair
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{store: newFakeStore()}
	var err error
	if f.ips, err = ipallocator.New(ipallocator.Config{CIDR: netip.MustParsePrefix("10.96.0.0/24")}); err != nil {
		t.Fatal(err)
	}
	if f.ports, err = portallocator.New(portallocator.Config{Range: portallocator.Range{Base: 30000, Size: 2768}}); err != nil {
		t.Fatal(err)
	}
	if f.r, err = New(Config{Store: f.store, IPAllocators: []*ipallocator.Allocator{f.ips}, PortAllocator: f.ports}); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) run(t *testing.T) {
	t.Helper()
	if err := f.r.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestCreatesMissingReservations(t *testing.T) {
	f := newFixture(t)
	f.store.put(nodePortService("web", "10.96.0.10", 30080))
	f.store.res[ipKey("10.96.0.10")] = owner("web")
	f.run(t)
	want := map[string]string{ipKey("10.96.0.10"): owner("web"), portallocator.Key(30080): owner("web")}
	if diff := cmp.Diff(want, f.store.reservations()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if got := f.r.Counts(); got != (Counts{Reserved: 1}) {
		t.Errorf("counts: got %+v, want one reservation", got)
	}
	if !f.ips.Has(netip.MustParseAddr("10.96.0.10")) || !f.ports.Has(30080) {
		t.Errorf("bitmaps not rebuilt")
	}
}

func TestReleasesLeaksAfterTwoRuns(t *testing.T) {
	f := newFixture(t)
	f.store.put(nodePortService("web", "10.96.0.10", 30080))
	f.store.res[ipKey("10.96.0.10")] = owner("web")
	f.store.res[portallocator.Key(30080)] = owner("web")
	f.store.res[ipKey("10.96.0.20")] = owner("gone")         // owner deleted
	f.store.res[portallocator.Key(30099)] = owner("web")     // owner no longer uses it
	f.store.res[portallocator.Key(30100)] = owner("pending") // an in-flight create

	f.run(t)
	if got := len(f.store.reservations()); got != 5 {
		t.Fatalf("first run released something: got %d keys, want 5", got)
	}
	if !f.ips.Has(netip.MustParseAddr("10.96.0.20")) {
		t.Errorf("suspect released from the bitmap before it is released in storage")
	}

	// The in-flight create commits before the second run.
	pending := nodePortService("pending", "10.96.0.30", 30100)
	f.store.put(pending)
	f.store.res[ipKey("10.96.0.30")] = owner("pending")

	f.run(t)
	want := map[string]string{
		ipKey("10.96.0.10"):      owner("web"),
		portallocator.Key(30080): owner("web"),
		ipKey("10.96.0.30"):      owner("pending"),
		portallocator.Key(30100): owner("pending"),
	}
	if diff := cmp.Diff(want, f.store.reservations()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if got := f.r.Counts(); got != (Counts{Released: 2}) {
		t.Errorf("counts: got %+v, want two releases", got)
	}
	if f.ips.Has(netip.MustParseAddr("10.96.0.20")) || f.ports.Has(30099) {
		t.Errorf("released values still marked in the bitmaps")
	}
}

func TestLeakMustPersistWithSameOwner(t *testing.T) {
	f := newFixture(t)
	f.store.res[ipKey("10.96.0.20")] = owner("a")
	f.run(t)
	// Between runs the key changed hands (released and reserved again).
	f.store.res[ipKey("10.96.0.20")] = owner("b")
	f.run(t)
	if _, ok := f.store.reservations()[ipKey("10.96.0.20")]; !ok {
		t.Errorf("released a key whose owner changed between runs")
	}
	f.run(t)
	if _, ok := f.store.reservations()[ipKey("10.96.0.20")]; ok {
		t.Errorf("leak seen twice with the same owner was not released")
	}
}

func TestHandsOverWrongOwner(t *testing.T) {
	f := newFixture(t)
	f.store.put(nodePortService("web", "10.96.0.10", 30080))
	f.store.res[ipKey("10.96.0.10")] = owner("old")
	f.store.res[portallocator.Key(30080)] = owner("web")
	f.run(t)
	f.run(t)
	if got := f.store.reservations()[ipKey("10.96.0.10")]; got != owner("web") {
		t.Errorf("got owner %q, want %q", got, owner("web"))
	}
}

func TestDuplicates(t *testing.T) {
	f := newFixture(t)
	f.store.put(nodePortService("a", "10.96.0.10", 30080))
	f.store.put(nodePortService("b", "10.96.0.10", 30081))
	f.run(t)
	if got := f.r.Counts().Duplicates; got != 1 {
		t.Errorf("duplicates: got %d, want 1", got)
	}
	if got := f.store.reservations()[ipKey("10.96.0.10")]; got != owner("a") {
		t.Errorf("got owner %q, want the first service", got)
	}
}

func TestLeavesExternalHoldersAlone(t *testing.T) {
	f := newFixture(t)
	external := ipallocator.ExternalOwnerPrefix + "myresources.mygroup/foo/bar"
	f.store.res[ipKey("10.96.0.50")] = external // an IPAddress a client created
	f.store.res[ipKey("10.96.0.10")] = external // ... for an address a Service uses
	f.store.put(nodePortService("web", "10.96.0.10", 30080))
	f.run(t)
	f.run(t)
	want := map[string]string{ipKey("10.96.0.50"): external, ipKey("10.96.0.10"): external, portallocator.Key(30080): owner("web")}
	if diff := cmp.Diff(want, f.store.reservations()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if got := f.r.Counts(); got.Released != 0 || got.Duplicates != 2 {
		t.Errorf("counts: got %+v, want nothing released and the conflict counted in each run", got)
	}
	if !f.ips.Has(netip.MustParseAddr("10.96.0.50")) {
		t.Errorf("externally held address not marked in the bitmap")
	}
}

func TestRunStopsWithContext(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.r.Run(ctx) }()
	cancel()
	if err := <-done; err != nil {
		t.Errorf("got %v, want nil", err)
	}
	if _, err := New(Config{}); err == nil {
		t.Errorf("New without store: got no error")
	}
}

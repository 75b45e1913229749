package proxy

import (
	"maps"
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"
	discovery "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Tracker accumulates Service, EndpointSlice and Node changes and produces
// State snapshots. It remembers which Services changed since the last
// successful sync, so backends can rewrite only those. Safe for concurrent use.
type Tracker struct {
	mu       sync.Mutex
	nodeName string
	opts     ServiceOptions
	zone     string

	services map[types.NamespacedName]*v1.Service
	slices   map[types.NamespacedName]map[string]*discovery.EndpointSlice
	built    map[types.NamespacedName]*Service

	// dirty maps a changed Service to the generation of its last change.
	dirty      map[types.NamespacedName]uint64
	generation uint64
	needFull   bool
	fullGen    uint64
	// triggers are last-change-trigger-times not yet programmed, with the
	// generation at which they were seen.
	triggers []trigger
	// oldestPending is when the oldest unsynced change arrived (zero if none).
	oldestPending time.Time
	now           func() time.Time
}

type trigger struct {
	at  time.Time
	gen uint64
}

// Snapshot is a State plus the bookkeeping needed to acknowledge it.
type Snapshot struct {
	State *State
	// TriggerTimes are the EndpointSlice last-change-trigger-times covered.
	TriggerTimes []time.Time
	generation   uint64
}

// NewTracker returns an empty tracker for the named node.
func NewTracker(nodeName string, opts ServiceOptions) *Tracker {
	return &Tracker{
		nodeName: nodeName,
		opts:     opts,
		services: map[types.NamespacedName]*v1.Service{},
		slices:   map[types.NamespacedName]map[string]*discovery.EndpointSlice{},
		built:    map[types.NamespacedName]*Service{},
		dirty:    map[types.NamespacedName]uint64{},
		needFull: true,
		now:      time.Now,
	}
}

func (t *Tracker) markLocked(name types.NamespacedName) {
	t.generation++
	t.dirty[name] = t.generation
	if t.oldestPending.IsZero() {
		t.oldestPending = t.now()
	}
}

// SetService records a Service add or update.
func (t *Tracker) SetService(svc *v1.Service) {
	t.mu.Lock()
	defer t.mu.Unlock()
	name := types.NamespacedName{Namespace: svc.Namespace, Name: svc.Name}
	t.services[name] = svc
	t.markLocked(name)
}

// DeleteService records a Service deletion.
func (t *Tracker) DeleteService(namespace, name string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := types.NamespacedName{Namespace: namespace, Name: name}
	delete(t.services, n)
	t.markLocked(n)
}

// SetEndpointSlice records an EndpointSlice add or update. Slices without
// the kubernetes.io/service-name label are ignored.
func (t *Tracker) SetEndpointSlice(slice *discovery.EndpointSlice) {
	svcName := slice.Labels[discovery.LabelServiceName]
	if svcName == "" {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	n := types.NamespacedName{Namespace: slice.Namespace, Name: svcName}
	if t.slices[n] == nil {
		t.slices[n] = map[string]*discovery.EndpointSlice{}
	}
	t.slices[n][slice.Name] = slice
	t.markLocked(n)
	if v, ok := slice.Annotations[v1.EndpointsLastChangeTriggerTime]; ok {
		if at, err := time.Parse(time.RFC3339Nano, v); err == nil {
			t.triggers = append(t.triggers, trigger{at: at, gen: t.generation})
		}
	}
}

// DeleteEndpointSlice records an EndpointSlice deletion.
func (t *Tracker) DeleteEndpointSlice(slice *discovery.EndpointSlice) {
	svcName := slice.Labels[discovery.LabelServiceName]
	if svcName == "" {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	n := types.NamespacedName{Namespace: slice.Namespace, Name: svcName}
	delete(t.slices[n], slice.Name)
	if len(t.slices[n]) == 0 {
		delete(t.slices, n)
	}
	t.markLocked(n)
}

// SetNodeZone records this node's topology.kubernetes.io/zone label; a
// change forces a full sync because topology hints depend on it.
func (t *Tracker) SetNodeZone(zone string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if zone == t.zone {
		return
	}
	t.zone = zone
	t.needFull = true
	t.generation++
	t.fullGen = t.generation
	if t.oldestPending.IsZero() {
		t.oldestPending = t.now()
	}
}

// Pending reports whether changes are waiting for a sync and since when.
func (t *Tracker) Pending() (bool, time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return !t.oldestPending.IsZero(), t.oldestPending
}

// Snapshot rebuilds the changed Services and returns the current State. When
// full is true (or a full sync is owed) State.Full is set.
func (t *Tracker) Snapshot(full bool) *Snapshot {
	t.mu.Lock()
	defer t.mu.Unlock()
	changed := make(map[types.NamespacedName]bool, len(t.dirty))
	for name := range t.dirty {
		changed[name] = true
		var slices []*discovery.EndpointSlice
		for _, s := range t.slices[name] {
			slices = append(slices, s)
		}
		if b := BuildService(t.services[name], slices, t.nodeName, t.opts); b != nil {
			t.built[name] = b
		} else {
			delete(t.built, name)
		}
	}
	snap := &Snapshot{
		State: &State{
			Node:     NodeInfo{Name: t.nodeName, Zone: t.zone},
			Services: maps.Clone(t.built),
			Changed:  changed,
			Full:     full || t.needFull,
		},
		generation: t.generation,
	}
	for _, tr := range t.triggers {
		snap.TriggerTimes = append(snap.TriggerTimes, tr.at)
	}
	return snap
}

// Synced acknowledges that snap was programmed: its changes are forgotten,
// unless they were overwritten by later ones.
func (t *Tracker) Synced(snap *Snapshot) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for name, gen := range t.dirty {
		if gen <= snap.generation {
			delete(t.dirty, name)
		}
	}
	kept := t.triggers[:0]
	for _, tr := range t.triggers {
		if tr.gen > snap.generation {
			kept = append(kept, tr)
		}
	}
	t.triggers = kept
	if snap.State.Full && t.fullGen <= snap.generation {
		t.needFull = false
	}
	if len(t.dirty) == 0 && snap.generation == t.generation {
		t.oldestPending = time.Time{}
	} else if len(t.dirty) > 0 {
		t.oldestPending = t.now()
	}
}

package node

import (
	"slices"
	"sync"

	"k8s.io/apimachinery/pkg/types"
)

// graph relates objects to the nodes whose pods reference them:
//
//	node <- pod <- secret, configmap, serviceaccount, pvc
//	node <- pod <- pvc <- pv <- secret
//
// Pods are counted per referenced object and node, so an object stays
// related to a node while any pod bound to it references the object. It is
// safe for concurrent use.
type graph struct {
	mu sync.RWMutex
	// pods are the bound pods by namespace/name.
	pods map[types.NamespacedName]podEntry
	// byNode counts, per node, the pods bound to it that reference each
	// object.
	byNode map[string]map[ref]int
	// pvs are the PersistentVolumes by name; pvsBySecret indexes them by
	// the Secrets they reference.
	pvs         map[string]pvEntry
	pvsBySecret map[ref]map[string]struct{}
}

// podEntry is what the graph keeps of one bound pod.
type podEntry struct {
	uid  types.UID
	node string
	refs []ref
}

// pvEntry is what the graph keeps of one PersistentVolume.
type pvEntry struct {
	claim   ref
	secrets []ref
}

func newGraph() *graph {
	return &graph{
		pods:        map[types.NamespacedName]podEntry{},
		byNode:      map[string]map[ref]int{},
		pvs:         map[string]pvEntry{},
		pvsBySecret: map[ref]map[string]struct{}{},
	}
}

// setPod records that pod key (uid) is bound to node and references refs
// (sorted, without duplicates), replacing what was known of the pod of
// that name; an empty node removes it.
func (g *graph) setPod(key types.NamespacedName, uid types.UID, node string, refs []ref) {
	g.mu.Lock()
	defer g.mu.Unlock()
	old, ok := g.pods[key]
	if ok && old.uid == uid && old.node == node && slices.Equal(old.refs, refs) {
		return
	}
	if ok {
		g.unlinkPod(old)
		delete(g.pods, key)
	}
	if node == "" {
		return
	}
	e := podEntry{uid: uid, node: node, refs: refs}
	g.pods[key] = e
	if len(refs) == 0 {
		return
	}
	counts := g.byNode[node]
	if counts == nil {
		counts = map[ref]int{}
		g.byNode[node] = counts
	}
	for _, r := range e.refs {
		counts[r]++
	}
}

// deletePod forgets pod key, unless the graph holds a newer pod (another
// uid) of that name.
func (g *graph) deletePod(key types.NamespacedName, uid types.UID) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if old, ok := g.pods[key]; ok && (uid == "" || old.uid == uid) {
		g.unlinkPod(old)
		delete(g.pods, key)
	}
}

// unlinkPod removes the counts of e. g.mu is held.
func (g *graph) unlinkPod(e podEntry) {
	counts := g.byNode[e.node]
	for _, r := range e.refs {
		if counts[r] <= 1 {
			delete(counts, r)
		} else {
			counts[r]--
		}
	}
	if len(counts) == 0 {
		delete(g.byNode, e.node)
	}
}

// setPV records PersistentVolume name, bound to claim (zero: unbound)
// and referencing secrets.
func (g *graph) setPV(name string, claim ref, secrets []ref) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.unlinkPV(name)
	e := pvEntry{claim: claim, secrets: secrets}
	g.pvs[name] = e
	for _, s := range secrets {
		addIndex(g.pvsBySecret, s, name)
	}
}

// deletePV forgets PersistentVolume name.
func (g *graph) deletePV(name string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.unlinkPV(name)
}

// unlinkPV removes PersistentVolume name and its index entries. g.mu is
// held.
func (g *graph) unlinkPV(name string) {
	old, ok := g.pvs[name]
	if !ok {
		return
	}
	delete(g.pvs, name)
	for _, s := range old.secrets {
		removeIndex(g.pvsBySecret, s, name)
	}
}

func addIndex(idx map[ref]map[string]struct{}, r ref, name string) {
	set := idx[r]
	if set == nil {
		set = map[string]struct{}{}
		idx[r] = set
	}
	set[name] = struct{}{}
}

func removeIndex(idx map[ref]map[string]struct{}, r ref, name string) {
	delete(idx[r], name)
	if len(idx[r]) == 0 {
		delete(idx, r)
	}
}

// related says whether a pod bound to node references r, directly or,
// for a PersistentVolume or a Secret of one, through the claim the volume
// is bound to.
func (g *graph) related(node string, r ref) bool {
	g.mu.RLock()
	defer g.mu.RUnlock()
	counts := g.byNode[node]
	if counts == nil {
		return false
	}
	switch r.kind {
	case kindPV:
		pv, ok := g.pvs[r.name]
		return ok && pv.claim.name != "" && counts[pv.claim] > 0
	case kindSecret:
		if counts[r] > 0 {
			return true
		}
		for name := range g.pvsBySecret[r] {
			if c := g.pvs[name].claim; c.name != "" && counts[c] > 0 {
				return true
			}
		}
		return false
	}
	return counts[r] > 0
}

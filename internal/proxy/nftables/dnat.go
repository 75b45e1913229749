package nftables

import (
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"sort"
	"strings"

	"sigs.k8s.io/knftables"
)

// The dnat-targets maps hold "numgen key : ip . port" for every
// load-balanced chain, whose rule picks a key with "numgen random mod n
// offset start" (slots.go hands out the keys).
//
// Why several maps: the kernel checks every element added to a map against
// every rule using the map, and every rule added against every element, so
// one map for all Services costs elements x rules (minutes at 10k Services
// of 10 endpoints). The chains are spread by a hash of their name over
// about sqrt(chains) shards, which divides that by the number of shards
// while keeping the table's set list short. There is one map per shard and
// protocol because nft 1.0.6 rejects a "th dport" map under a "meta
// l4proto" match once it reads the map back from the kernel.
//
// Maps come in two generations, "a" and "b". A full sync writes the one
// not in the table, sized for the Services of that sync, and deletes the
// other at its end, so the keys start afresh and a full sync never edits
// maps live rules still use; partial syncs add to the current generation
// and create its maps as they are first needed.

// dnatGen is one generation of dnat-targets maps.
type dnatGen struct {
	name   string // dnatMapPrefix + "a" or "b"
	shards uint32
	slots  *slotAllocator
	// created are the maps of the generation made in the kernel.
	created map[string]bool
}

// maxDNATShards bounds the maps per protocol.
const maxDNATShards = 256

// newDNATGen returns generation name, sharded for about chains chains.
func newDNATGen(name string, chains int) *dnatGen {
	shards := uint32(1)
	for want := math.Sqrt(float64(chains)); float64(shards) < want && shards < maxDNATShards; {
		shards *= 2
	}
	return &dnatGen{name: name, shards: shards, slots: newSlotAllocator(), created: map[string]bool{}}
}

// mapFor names the map holding the targets of chain for proto.
func (g *dnatGen) mapFor(chain, proto string) string {
	h := fnv.New32a()
	h.Write([]byte(chain))
	return fmt.Sprintf("%s-%s-%d", g.name, proto, h.Sum32()%g.shards)
}

// dnatMap returns the object creating map name (one of mapFor's).
func dnatMap(name string) *knftables.Map {
	f := strings.Split(name, "-")
	proto := f[len(f)-2]
	return &knftables.Map{Name: name, TypeOf: "numgen random mod 1 : ip daddr . " + proto + " dport"}
}

// nextDNATGen picks the generation a full sync writes: one with no map in
// the table (existing), preferring the one not current.
func nextDNATGen(existing []string, current string) string {
	gens := []string{dnatMapPrefix + "a", dnatMapPrefix + "b"}
	if current == gens[0] {
		gens[0], gens[1] = gens[1], gens[0]
	}
	for _, g := range gens {
		if !slices.ContainsFunc(existing, func(m string) bool { return strings.HasPrefix(m, g+"-") }) {
			return g
		}
	}
	return gens[0]
}

// createMaps appends the creation of the maps in used that g does not have
// yet (emptying those a crashed run left in the table, existing) and
// returns their names.
func (g *dnatGen) createMaps(ph *txPhases, used map[string]bool, existing []string) []string {
	var names []string
	for name := range used {
		if !g.created[name] {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		ph.create = append(ph.create, dnatMap(name))
		if slices.Contains(existing, name) {
			ph.flushMaps = append(ph.flushMaps, name)
		}
	}
	return names
}

package nftables

import (
	"fmt"
	"hash/fnv"
	"math"
	"sort"
	"strconv"
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
// Maps come in numbered generations. A full sync writes a new one, sized
// for the Services of that sync, and deletes every other at its end, so the
// keys start afresh and a full sync never edits maps that live rules still
// use (even rules an interrupted sync left behind); partial syncs add to
// the current generation and create its maps as they are first needed.

// dnatGen is one generation of dnat-targets maps.
type dnatGen struct {
	name   string // dnatMapPrefix + number
	number uint64
	shards uint32
	slots  *slotAllocator
	// created are the maps of the generation made in the kernel.
	created map[string]bool
}

// maxDNATShards bounds the maps per protocol.
const maxDNATShards = 256

// newDNATGen returns generation name (from nextDNATGen), sharded for about
// chains chains.
func newDNATGen(name string, chains int) *dnatGen {
	shards := uint32(1)
	for want := math.Sqrt(float64(chains)); float64(shards) < want && shards < maxDNATShards; {
		shards *= 2
	}
	number, _ := strconv.ParseUint(strings.TrimPrefix(name, dnatMapPrefix), 10, 64)
	return &dnatGen{name: name, number: number, shards: shards, slots: newSlotAllocator(), created: map[string]bool{}}
}

// mapFor names the map holding the targets of chain for proto.
func (g *dnatGen) mapFor(chain, proto string) string {
	h := fnv.New32a()
	h.Write([]byte(chain))
	return fmt.Sprintf("%s-%s-%d", g.name, proto, h.Sum32()%g.shards)
}

// dnatMap returns the object creating map name (one of mapFor's) for
// proto.
func dnatMap(name, proto string) *knftables.Map {
	return &knftables.Map{Name: name, TypeOf: "numgen random mod 1 : ip daddr . " + proto + " dport"}
}

// nextDNATGen names the generation a full sync writes: one numbered above
// every generation in the table (existing) and the current one, so no rule
// uses its maps yet, whatever a failed or interrupted sync left behind.
func nextDNATGen(existing []string, current *dnatGen) string {
	var n uint64
	if current != nil {
		n = current.number
	}
	for _, m := range existing {
		rest, ok := strings.CutPrefix(m, dnatMapPrefix)
		if !ok {
			continue
		}
		num, _, _ := strings.Cut(rest, "-")
		if v, err := strconv.ParseUint(num, 10, 64); err == nil && v > n {
			n = v
		}
	}
	return dnatMapPrefix + strconv.FormatUint(n+1, 10)
}

// createMaps appends the creation of the maps in used (name: protocol)
// that g does not have yet and returns their names.
func (g *dnatGen) createMaps(ph *txPhases, used map[string]string) []string {
	var names []string
	for name := range used {
		if !g.created[name] {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		ph.create = append(ph.create, dnatMap(name, used[name]))
	}
	return names
}

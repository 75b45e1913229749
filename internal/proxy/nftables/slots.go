package nftables

import (
	"errors"
	"math/bits"
)

// A slot block is a run of keys of the dnat-targets map, one per endpoint a
// service chain spreads over: "numgen random mod n offset start" picks one.
// Blocks are immutable: a changed endpoint list gets a new block, written
// before the rule that uses it, and the old block is freed only after the
// sync that stopped using it has committed, so a key is never in use twice.
type slotBlock struct {
	start uint32
	size  uint32 // a power of two, at least the number of endpoints
}

// errSlotsExhausted asks for a full sync, which starts the slots afresh in
// the other map.
var errSlotsExhausted = errors.New("dnat-targets map keys exhausted")

// maxSlot bounds the keys; numgen yields 32-bit numbers.
const maxSlot = 1 << 31

// slotAllocator hands out blocks of dnat-targets keys. Freed blocks are
// reused by size; a full sync throws the allocator away with its map.
type slotAllocator struct {
	next uint32
	free map[uint32][]uint32 // size -> starts
}

func newSlotAllocator() *slotAllocator {
	return &slotAllocator{free: map[uint32][]uint32{}}
}

// blockSize rounds n up to a power of two so freed blocks fit later lists
// of a similar length.
func blockSize(n int) uint32 {
	if n <= 1 {
		return 1
	}
	return 1 << bits.Len32(uint32(n-1))
}

func (a *slotAllocator) alloc(n int) (slotBlock, error) {
	size := blockSize(n)
	if starts := a.free[size]; len(starts) > 0 {
		start := starts[len(starts)-1]
		a.free[size] = starts[:len(starts)-1]
		return slotBlock{start: start, size: size}, nil
	}
	if uint64(a.next)+uint64(size) > maxSlot {
		return slotBlock{}, errSlotsExhausted
	}
	b := slotBlock{start: a.next, size: size}
	a.next += size
	return b, nil
}

func (a *slotAllocator) release(b slotBlock) {
	a.free[b.size] = append(a.free[b.size], b.start)
}

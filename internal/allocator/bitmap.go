package allocator

import (
	"errors"
	"math/bits"
	"math/rand/v2"
	"sync"
)

// Errors returned by Bitmap.
var (
	// ErrFull means no free offset is left.
	ErrFull = errors.New("range is full")
	// ErrAllocated means the offset is already marked used.
	ErrAllocated = errors.New("already allocated")
	// ErrOutOfRange means the offset lies outside [0, size).
	ErrOutOfRange = errors.New("out of range")
)

// Bitmap tracks which offsets of a range of size elements are in use. The
// range is split in two bands, as upstream does since KEP-3070/3668: the
// lower "static" band [0, Offset) is where users are expected to pick values
// by hand, so AllocateNext prefers the upper "dynamic" band and only falls
// back to the lower one when the upper band is full. It is safe for
// concurrent use.
type Bitmap struct {
	mu     sync.Mutex
	size   int
	offset int
	words  []uint64
	used   int
}

// NewBitmap returns an empty bitmap of size elements whose static band is
// [0, offset). offset is clamped to [0, size].
func NewBitmap(size, offset int) *Bitmap {
	if size < 0 {
		size = 0
	}
	offset = max(0, min(offset, size))
	return &Bitmap{size: size, offset: offset, words: make([]uint64, (size+63)/64)}
}

// BandOffset is upstream's split between the static and the dynamic band
// for a range of size elements: size/step clamped to [lo, hi], and no static
// band at all for ranges smaller than lo.
func BandOffset(size, lo, hi, step int) int {
	if size < lo {
		return 0
	}
	return max(lo, min(size/step, hi))
}

// Size is the number of elements in the range.
func (b *Bitmap) Size() int { return b.size }

// StaticBand is the first offset of the dynamic band.
func (b *Bitmap) StaticBand() int { return b.offset }

// Allocate marks offset i used.
func (b *Bitmap) Allocate(i int) error {
	if i < 0 || i >= b.size {
		return ErrOutOfRange
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.has(i) {
		return ErrAllocated
	}
	b.set(i)
	return nil
}

// AllocateNext marks a free offset used and returns it: a random free offset
// of the dynamic band, else one of the static band, else ErrFull.
func (b *Bitmap) AllocateNext() (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.used >= b.size {
		return 0, ErrFull
	}
	if i, ok := b.scan(b.offset, b.size); ok {
		b.set(i)
		return i, nil
	}
	if i, ok := b.scan(0, b.offset); ok {
		b.set(i)
		return i, nil
	}
	return 0, ErrFull
}

// scan looks for a free offset in [lo, hi), starting at a random point and
// wrapping around.
func (b *Bitmap) scan(lo, hi int) (int, bool) {
	n := hi - lo
	if n <= 0 {
		return 0, false
	}
	start := lo + rand.IntN(n)
	if i, ok := b.firstFree(start, hi); ok {
		return i, true
	}
	return b.firstFree(lo, start)
}

// firstFree returns the lowest free offset in [lo, hi), a word at a time.
func (b *Bitmap) firstFree(lo, hi int) (int, bool) {
	for i := lo; i < hi; {
		w := i / 64
		free := ^b.words[w] >> (uint(i) % 64)
		if free == 0 {
			i = (w + 1) * 64
			continue
		}
		j := i + bits.TrailingZeros64(free)
		if j < hi {
			return j, true
		}
		return 0, false
	}
	return 0, false
}

// Release marks offset i free. Out-of-range or free offsets are ignored.
func (b *Bitmap) Release(i int) {
	if i < 0 || i >= b.size {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.has(i) {
		b.words[i/64] &^= 1 << (uint(i) % 64)
		b.used--
	}
}

// Has reports whether offset i is used.
func (b *Bitmap) Has(i int) bool {
	if i < 0 || i >= b.size {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.has(i)
}

// Used is the number of used offsets.
func (b *Bitmap) Used() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

// Free is the number of free offsets.
func (b *Bitmap) Free() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.size - b.used
}

// Reset replaces the whole state with exactly the offsets given (those out
// of range are ignored).
func (b *Bitmap) Reset(offsets []int) {
	words := make([]uint64, (b.size+63)/64) // size never changes
	used := 0
	for _, i := range offsets {
		if i < 0 || i >= b.size || words[i/64]&(1<<(uint(i)%64)) != 0 {
			continue
		}
		words[i/64] |= 1 << (uint(i) % 64)
		used++
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.words, b.used = words, used
}

// ForEach calls fn with every used offset in increasing order.
func (b *Bitmap) ForEach(fn func(int)) {
	b.mu.Lock()
	words := append([]uint64(nil), b.words...)
	b.mu.Unlock()
	for w, word := range words {
		for word != 0 {
			j := bits.TrailingZeros64(word)
			fn(w*64 + j)
			word &^= 1 << uint(j)
		}
	}
}

func (b *Bitmap) has(i int) bool { return b.words[i/64]&(1<<(uint(i)%64)) != 0 }

func (b *Bitmap) set(i int) {
	b.words[i/64] |= 1 << (uint(i) % 64)
	b.used++
}

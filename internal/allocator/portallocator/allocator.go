package portallocator

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/svcnet/svcnet/internal/allocator"
	"github.com/svcnet/svcnet/internal/storage"
)

// KeyPrefix is where NodePort reservation keys live.
const KeyPrefix = "/registry/reservations/servicenodeports/"

// Static band of the range (KEP-3668): size/32 clamped to [16, 128].
const (
	bandMin  = 16
	bandMax  = 128
	bandStep = 32
)

// Errors returned by Allocate and AllocateNext.
var (
	// ErrFull means every port of the range is taken.
	ErrFull = errors.New("range is full")
	// ErrAllocated is upstream's message for a taken port.
	ErrAllocated = errors.New("provided port is already allocated")
)

// NotInRangeError says a port is outside the range.
type NotInRangeError struct{ ValidPorts string }

func (e *NotInRangeError) Error() string {
	return fmt.Sprintf("provided port is not in the valid range. The range of valid ports is %s", e.ValidPorts)
}

// Range is a contiguous range of ports [Base, Base+Size).
type Range struct {
	Base int
	Size int
}

// ParseRange parses "30000-32767" (both ends included) or a single port.
func ParseRange(s string) (Range, error) {
	lo, hi, found := strings.Cut(strings.TrimSpace(s), "-")
	if !found {
		hi = lo
	}
	base, err1 := strconv.Atoi(lo)
	last, err2 := strconv.Atoi(hi)
	if err1 != nil || err2 != nil || base < 1 || last > 65535 || last < base {
		return Range{}, fmt.Errorf("invalid port range %q", s)
	}
	return Range{Base: base, Size: last - base + 1}, nil
}

// String is the "first-last" form used in messages.
func (r Range) String() string {
	if r.Size == 0 {
		return ""
	}
	return fmt.Sprintf("%d-%d", r.Base, r.Base+r.Size-1)
}

// Contains reports whether port is in r.
func (r Range) Contains(port int) bool { return port >= r.Base && port < r.Base+r.Size }

// Config is the range of an Allocator.
type Config struct {
	Range Range
}

// Allocator hands out ports of one range.
type Allocator struct {
	r    Range
	bits *allocator.Bitmap
}

// New returns an empty Allocator for cfg.Range.
func New(cfg Config) (*Allocator, error) {
	r := cfg.Range
	if r.Size <= 0 || r.Base < 1 || r.Base+r.Size-1 > 65535 {
		return nil, fmt.Errorf("portallocator: invalid range %+v", r)
	}
	return &Allocator{r: r, bits: allocator.NewBitmap(r.Size, allocator.BandOffset(r.Size, bandMin, bandMax, bandStep))}, nil
}

// Range is the range of a.
func (a *Allocator) Range() Range { return a.r }

// StaticBandEnd is the first port of the dynamic band.
func (a *Allocator) StaticBandEnd() int { return a.r.Base + a.bits.StaticBand() }

// Allocate marks a specific port used: *NotInRangeError when outside the
// range, ErrAllocated when taken.
func (a *Allocator) Allocate(port int) error {
	if !a.r.Contains(port) {
		return &NotInRangeError{ValidPorts: a.r.String()}
	}
	if err := a.bits.Allocate(port - a.r.Base); err != nil {
		return ErrAllocated
	}
	return nil
}

// AllocateNext marks a free port used and returns it, preferring the
// dynamic band. ErrFull when none is left.
func (a *Allocator) AllocateNext() (int, error) {
	i, err := a.bits.AllocateNext()
	if err != nil {
		return 0, ErrFull
	}
	return a.r.Base + i, nil
}

// Release marks port free; ports outside the range are ignored.
func (a *Allocator) Release(port int) {
	if a.r.Contains(port) {
		a.bits.Release(port - a.r.Base)
	}
}

// Has reports whether port is marked used.
func (a *Allocator) Has(port int) bool { return a.r.Contains(port) && a.bits.Has(port-a.r.Base) }

// Used is the number of ports marked used.
func (a *Allocator) Used() int { return a.bits.Used() }

// Free is the number of ports not marked used.
func (a *Allocator) Free() int { return a.bits.Free() }

// ForEach calls fn with every port marked used.
func (a *Allocator) ForEach(fn func(int)) { a.bits.ForEach(func(i int) { fn(a.r.Base + i) }) }

// Reset replaces the bitmap with exactly ports (out-of-range ones ignored).
func (a *Allocator) Reset(ports []int) {
	offsets := make([]int, 0, len(ports))
	for _, p := range ports {
		if a.r.Contains(p) {
			offsets = append(offsets, p-a.r.Base)
		}
	}
	a.bits.Reset(offsets)
}

// Refresh rebuilds the bitmap from the reservation keys in store.
func (a *Allocator) Refresh(ctx context.Context, store storage.Interface) error {
	keys, _, err := store.Reservations(ctx, KeyPrefix)
	if err != nil {
		return fmt.Errorf("listing port reservations: %w", err)
	}
	ports := make([]int, 0, len(keys))
	for k := range keys {
		if p, ok := ParseKey(k); ok {
			ports = append(ports, p)
		}
	}
	a.Reset(ports)
	return nil
}

// Key is the reservation key of port.
func Key(port int) string { return KeyPrefix + strconv.Itoa(port) }

// ParseKey returns the port of a reservation key.
func ParseKey(key string) (int, bool) {
	s, ok := strings.CutPrefix(key, KeyPrefix)
	if !ok {
		return 0, false
	}
	p, err := strconv.Atoi(s)
	return p, err == nil
}

package ipallocator

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"net/netip"
	"strings"

	"github.com/svcnet/svcnet/internal/allocator"
	"github.com/svcnet/svcnet/internal/storage"
)

// KeyPrefix is where ClusterIP reservation keys live: they are the
// networking.k8s.io/v1 IPAddress objects of kube-apiserver's layout (see
// IPAddresses).
const KeyPrefix = "/registry/ipaddresses/"

// maxRangeBits bounds the bitmap: kube-apiserver refuses service CIDRs with
// more than 20 host bits (/12 for IPv4, /108 for IPv6), so addresses past
// 2^20 are never handed out.
const maxRangeBits = 20

// Static band of the range (KEP-3070): size/16 clamped to [16, 256].
const (
	bandMin  = 16
	bandMax  = 256
	bandStep = 16
)

// Errors returned by Allocate and AllocateNext.
var (
	// ErrFull means every address of the range is taken.
	ErrFull = errors.New("range is full")
	// ErrAllocated is upstream's message for a taken address.
	ErrAllocated = errors.New("provided IP is already allocated")
)

// NotInRangeError says an address is outside the allocatable range.
type NotInRangeError struct {
	IP         netip.Addr
	ValidRange string
}

func (e *NotInRangeError) Error() string {
	return fmt.Sprintf("the provided IP (%s) is not in the valid range. The range of valid IPs is %s", e.IP, e.ValidRange)
}

// Config is the range of an Allocator.
type Config struct {
	// CIDR is one --service-cluster-ip-range.
	CIDR netip.Prefix
}

// Allocator hands out addresses of one CIDR. The network address is never
// allocated, nor, for IPv4, the broadcast address.
type Allocator struct {
	cidr  netip.Prefix
	base  netip.Addr // network address + 1: offset 0
	size  int
	bits  *allocator.Bitmap
	valid string
}

// New returns an empty Allocator for cfg.CIDR.
func New(cfg Config) (*Allocator, error) {
	if !cfg.CIDR.IsValid() {
		return nil, fmt.Errorf("ipallocator: invalid CIDR %v", cfg.CIDR)
	}
	cidr := cfg.CIDR.Masked()
	hostBits := cidr.Addr().BitLen() - cidr.Bits()
	var size int
	switch {
	case hostBits > maxRangeBits:
		size = 1 << maxRangeBits
	case cidr.Addr().Is4():
		size = (1 << hostBits) - 2
	default:
		size = (1 << hostBits) - 1
	}
	if size <= 0 {
		return nil, fmt.Errorf("ipallocator: CIDR %v has no usable addresses", cidr)
	}
	return &Allocator{
		cidr:  cidr,
		base:  cidr.Addr().Next(),
		size:  size,
		bits:  allocator.NewBitmap(size, allocator.BandOffset(size, bandMin, bandMax, bandStep)),
		valid: cidr.String(),
	}, nil
}

// CIDR is the range of a.
func (a *Allocator) CIDR() netip.Prefix { return a.cidr }

// IsIPv6 reports the family of the range.
func (a *Allocator) IsIPv6() bool { return a.cidr.Addr().Is6() }

// Size is the number of allocatable addresses.
func (a *Allocator) Size() int { return a.size }

// StaticBandEnd is the first address of the dynamic band: addresses below it
// are only handed out dynamically once the dynamic band is full.
func (a *Allocator) StaticBandEnd() netip.Addr { return a.addr(a.bits.StaticBand()) }

// Contains reports whether ip may be allocated from a.
func (a *Allocator) Contains(ip netip.Addr) bool {
	_, ok := a.offset(ip)
	return ok
}

// Allocate marks a specific address used: *NotInRangeError when it is
// outside the range, ErrAllocated when it is taken.
func (a *Allocator) Allocate(ip netip.Addr) error {
	i, ok := a.offset(ip)
	if !ok {
		return &NotInRangeError{IP: ip, ValidRange: a.valid}
	}
	if err := a.bits.Allocate(i); err != nil {
		return ErrAllocated
	}
	return nil
}

// AllocateNext marks a free address used and returns it, preferring the
// dynamic band. ErrFull when none is left.
func (a *Allocator) AllocateNext() (netip.Addr, error) {
	i, err := a.bits.AllocateNext()
	if err != nil {
		return netip.Addr{}, ErrFull
	}
	return a.addr(i), nil
}

// Release marks ip free; addresses outside the range are ignored.
func (a *Allocator) Release(ip netip.Addr) {
	if i, ok := a.offset(ip); ok {
		a.bits.Release(i)
	}
}

// Has reports whether ip is marked used.
func (a *Allocator) Has(ip netip.Addr) bool {
	i, ok := a.offset(ip)
	return ok && a.bits.Has(i)
}

// Used is the number of addresses marked used.
func (a *Allocator) Used() int { return a.bits.Used() }

// Free is the number of addresses not marked used.
func (a *Allocator) Free() int { return a.bits.Free() }

// ForEach calls fn with every address marked used.
func (a *Allocator) ForEach(fn func(netip.Addr)) {
	a.bits.ForEach(func(i int) { fn(a.addr(i)) })
}

// Reset replaces the bitmap with exactly ips (those outside the range are
// ignored).
func (a *Allocator) Reset(ips []netip.Addr) {
	offsets := make([]int, 0, len(ips))
	for _, ip := range ips {
		if i, ok := a.offset(ip); ok {
			offsets = append(offsets, i)
		}
	}
	a.bits.Reset(offsets)
}

// Refresh rebuilds the bitmap from the reservation keys in store.
func (a *Allocator) Refresh(ctx context.Context, store storage.Interface) error {
	keys, _, err := store.Reservations(ctx, KeyPrefix)
	if err != nil {
		return fmt.Errorf("listing IP reservations: %w", err)
	}
	ips := make([]netip.Addr, 0, len(keys))
	for k := range keys {
		if ip, ok := ParseKey(k); ok {
			ips = append(ips, ip)
		}
	}
	a.Reset(ips)
	return nil
}

// Key is the reservation key of ip.
func Key(ip netip.Addr) string { return KeyPrefix + ip.Unmap().String() }

// ParseKey returns the address of a reservation key.
func ParseKey(key string) (netip.Addr, bool) {
	s, ok := strings.CutPrefix(key, KeyPrefix)
	if !ok {
		return netip.Addr{}, false
	}
	ip, err := netip.ParseAddr(s)
	return ip, err == nil
}

// offset maps ip to its bitmap offset.
func (a *Allocator) offset(ip netip.Addr) (int, bool) {
	ip = ip.Unmap()
	if !ip.IsValid() || ip.Is4() != a.base.Is4() || !a.cidr.Contains(ip) {
		return 0, false
	}
	d := new(big.Int).Sub(new(big.Int).SetBytes(ip.AsSlice()), new(big.Int).SetBytes(a.base.AsSlice()))
	if d.Sign() < 0 || !d.IsInt64() || d.Int64() >= int64(a.size) {
		return 0, false
	}
	return int(d.Int64()), true
}

// addr maps a bitmap offset back to an address.
func (a *Allocator) addr(i int) netip.Addr {
	n := new(big.Int).Add(new(big.Int).SetBytes(a.base.AsSlice()), big.NewInt(int64(i)))
	buf := make([]byte, a.base.BitLen()/8)
	n.FillBytes(buf)
	ip, _ := netip.AddrFromSlice(buf)
	return ip
}

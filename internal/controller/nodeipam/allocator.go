package nodeipam

import (
	"errors"
	"fmt"
	"math/big"
	"net/netip"
)

// ErrFull means every block of the cluster CIDR is assigned.
var ErrFull = errors.New("cluster CIDR is full")

// blocks hands out the fixed-size sub-blocks of a cluster CIDR.
type blocks struct {
	cidr     netip.Prefix
	maskSize int
	count    int
	used     map[int]bool
	next     int
}

func newBlocks(cidr netip.Prefix, maskSize int) (*blocks, error) {
	cidr = cidr.Masked()
	if maskSize < cidr.Bits() || maskSize > cidr.Addr().BitLen() {
		return nil, fmt.Errorf("node mask size %d does not fit cluster CIDR %s", maskSize, cidr)
	}
	if maskSize-cidr.Bits() > 20 {
		return nil, fmt.Errorf("cluster CIDR %s split into /%d gives more than 2^20 blocks", cidr, maskSize)
	}
	return &blocks{cidr: cidr, maskSize: maskSize, count: 1 << (maskSize - cidr.Bits()), used: map[int]bool{}}, nil
}

// block returns the i-th sub-block.
func (b *blocks) block(i int) netip.Prefix {
	base := new(big.Int).SetBytes(b.cidr.Addr().AsSlice())
	off := new(big.Int).Lsh(big.NewInt(int64(i)), uint(b.cidr.Addr().BitLen()-b.maskSize))
	raw := base.Add(base, off).FillBytes(make([]byte, b.cidr.Addr().BitLen()/8))
	addr, _ := netip.AddrFromSlice(raw)
	return netip.PrefixFrom(addr, b.maskSize)
}

// index returns the block index of p, or false if p is not one of ours.
func (b *blocks) index(p netip.Prefix) (int, bool) {
	if p.Bits() != b.maskSize || !b.cidr.Contains(p.Addr()) || p.Masked() != p {
		return 0, false
	}
	base := new(big.Int).SetBytes(b.cidr.Addr().AsSlice())
	off := new(big.Int).Sub(new(big.Int).SetBytes(p.Addr().AsSlice()), base)
	return int(off.Rsh(off, uint(b.cidr.Addr().BitLen()-b.maskSize)).Int64()), true
}

// occupy marks p used; it reports false if p is not a block of ours.
func (b *blocks) occupy(p netip.Prefix) bool {
	i, ok := b.index(p)
	if ok {
		b.used[i] = true
	}
	return ok
}

// release frees p.
func (b *blocks) release(p netip.Prefix) {
	if i, ok := b.index(p); ok {
		delete(b.used, i)
	}
}

// allocate returns the next free block, scanning round-robin so a block
// just released is not handed out again at once.
func (b *blocks) allocate() (netip.Prefix, error) {
	for n := 0; n < b.count; n++ {
		i := (b.next + n) % b.count
		if !b.used[i] {
			b.used[i] = true
			b.next = (i + 1) % b.count
			return b.block(i), nil
		}
	}
	return netip.Prefix{}, ErrFull
}

package podnet

import (
	"errors"
	"fmt"
	"math/big"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// ErrRangeFull is returned when every address of the range is taken.
var ErrRangeFull = errors.New("pod CIDR has no free address")

// IPAM hands out addresses of one CIDR to pod UIDs. Each allocation is a file
// named after the address holding the owner, so allocations survive
// restarts. The network address, the gateway (first address) and, for IPv4,
// the broadcast address are never handed out.
type IPAM struct {
	mu     sync.Mutex
	prefix netip.Prefix
	dir    string
}

// NewIPAM returns an allocator for prefix storing its state under dir.
func NewIPAM(prefix netip.Prefix, dir string) (*IPAM, error) {
	prefix = prefix.Masked()
	if prefix.Bits() > prefix.Addr().BitLen()-2 {
		return nil, fmt.Errorf("pod CIDR %s is too small", prefix)
	}
	d := filepath.Join(dir, strings.ReplaceAll(prefix.String(), "/", "_"))
	if err := os.MkdirAll(d, 0o700); err != nil {
		return nil, fmt.Errorf("creating IPAM dir: %w", err)
	}
	return &IPAM{prefix: prefix, dir: d}, nil
}

// Gateway returns the first usable address of the range, kept for the bridge.
func (a *IPAM) Gateway() netip.Addr { return a.prefix.Addr().Next() }

// Prefix returns the managed range.
func (a *IPAM) Prefix() netip.Prefix { return a.prefix }

// lastReservedFile remembers the most recent allocation, so the next one
// starts after it (round robin, as CNI's host-local): a freed address is
// reused last, long after neighbours forgot its old MAC address.
const lastReservedFile = "last_reserved_ip"

// Allocate returns the address of owner, allocating the next free one after
// the last allocation (wrapping around) if it has none yet.
func (a *IPAM) Allocate(owner string) (netip.Addr, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if ip, ok, err := a.lookup(owner); err != nil || ok {
		return ip, err
	}
	size := new(big.Int).Lsh(big.NewInt(1), uint(a.prefix.Addr().BitLen()-a.prefix.Bits()))
	limit := size.Int64() - 1 // the last address: IPv4 broadcast
	if !size.IsInt64() || limit > 1<<20 {
		limit = 1 << 20
	}
	first := a.Gateway().Next()
	// Offsets 2 .. limit-1 from the network address are usable.
	usable := limit - 2
	start := int64(0)
	if b, err := os.ReadFile(filepath.Join(a.dir, lastReservedFile)); err == nil {
		if last, err := netip.ParseAddr(strings.TrimSpace(string(b))); err == nil && a.prefix.Contains(last) {
			start = (offset(first, last) + 1) % usable
			if start < 0 {
				start = 0
			}
		}
	}
	for i := int64(0); i < usable; i++ {
		ip := nth(first, (start+i)%usable)
		f, err := os.OpenFile(filepath.Join(a.dir, ip.String()), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, os.ErrExist) {
			continue
		}
		if err != nil {
			return netip.Addr{}, fmt.Errorf("reserving %s: %w", ip, err)
		}
		_, werr := f.WriteString(owner)
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			return netip.Addr{}, fmt.Errorf("reserving %s: %w", ip, werr)
		}
		// Losing the hint only costs round robin, never an allocation.
		_ = os.WriteFile(filepath.Join(a.dir, lastReservedFile), []byte(ip.String()), 0o600)
		return ip, nil
	}
	return netip.Addr{}, ErrRangeFull
}

// offset returns how many addresses b lies after a.
func offset(a, b netip.Addr) int64 {
	return new(big.Int).Sub(new(big.Int).SetBytes(b.AsSlice()), new(big.Int).SetBytes(a.AsSlice())).Int64()
}

// nth returns the address n after a.
func nth(a netip.Addr, n int64) netip.Addr {
	v := new(big.Int).Add(new(big.Int).SetBytes(a.AsSlice()), big.NewInt(n))
	buf := make([]byte, len(a.AsSlice()))
	v.FillBytes(buf)
	ip, _ := netip.AddrFromSlice(buf)
	return ip
}

// Lookup returns the address held by owner.
func (a *IPAM) Lookup(owner string) (netip.Addr, bool, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.lookup(owner)
}

func (a *IPAM) lookup(owner string) (netip.Addr, bool, error) {
	all, err := a.list()
	if err != nil {
		return netip.Addr{}, false, err
	}
	ip, ok := all[owner]
	return ip, ok, nil
}

// Allocations returns every owner with its address.
func (a *IPAM) Allocations() (map[string]netip.Addr, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.list()
}

func (a *IPAM) list() (map[string]netip.Addr, error) {
	entries, err := os.ReadDir(a.dir)
	if err != nil {
		return nil, fmt.Errorf("listing allocations: %w", err)
	}
	out := map[string]netip.Addr{}
	for _, e := range entries {
		ip, err := netip.ParseAddr(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join(a.dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("reading allocation: %w", err)
		}
		out[string(b)] = ip
	}
	return out, nil
}

// Release frees the address of owner; releasing nothing is not an error.
func (a *IPAM) Release(owner string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	ip, ok, err := a.lookup(owner)
	if err != nil || !ok {
		return err
	}
	if err := os.Remove(filepath.Join(a.dir, ip.String())); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("releasing %s: %w", ip, err)
	}
	return nil
}

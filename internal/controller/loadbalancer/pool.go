package loadbalancer

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// ErrPoolExhausted means every address of the pools of a family is in use.
var ErrPoolExhausted = errors.New("no available IPs in the pools")

// Pool is an inclusive range of addresses of one family.
type Pool struct {
	First netip.Addr
	Last  netip.Addr
}

// ParsePool parses a --loadbalancer-ip-pool value: a CIDR
// ("192.168.100.240/28", every address of it, network and broadcast
// included, as MetalLB does), a range ("192.168.100.240-192.168.100.250",
// both ends included) or a single address. IPv6 is accepted in all three.
func ParsePool(s string) (Pool, error) {
	s = strings.TrimSpace(s)
	if first, last, ok := strings.Cut(s, "-"); ok {
		a, err := netip.ParseAddr(strings.TrimSpace(first))
		if err != nil {
			return Pool{}, fmt.Errorf("pool %q: %w", s, err)
		}
		b, err := netip.ParseAddr(strings.TrimSpace(last))
		if err != nil {
			return Pool{}, fmt.Errorf("pool %q: %w", s, err)
		}
		a, b = a.Unmap(), b.Unmap()
		if a.Is4() != b.Is4() {
			return Pool{}, fmt.Errorf("pool %q: ends are of different IP families", s)
		}
		if b.Less(a) {
			return Pool{}, fmt.Errorf("pool %q: first address is after the last", s)
		}
		return Pool{First: a, Last: b}, nil
	}
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return Pool{}, fmt.Errorf("pool %q: %w", s, err)
		}
		return PoolFromPrefix(p), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return Pool{}, fmt.Errorf("pool %q: %w", s, err)
	}
	a = a.Unmap()
	return Pool{First: a, Last: a}, nil
}

// ParsePools parses several pool values (a repeated flag, or one flag
// value split on commas).
func ParsePools(values []string) ([]Pool, error) {
	var pools []Pool
	for _, v := range values {
		for _, s := range strings.Split(v, ",") {
			if strings.TrimSpace(s) == "" {
				continue
			}
			p, err := ParsePool(s)
			if err != nil {
				return nil, err
			}
			pools = append(pools, p)
		}
	}
	return pools, nil
}

// PoolFromPrefix returns the pool of every address in p.
func PoolFromPrefix(p netip.Prefix) Pool {
	p = p.Masked()
	first := p.Addr().Unmap()
	raw := first.AsSlice()
	host := len(raw)*8 - p.Bits()
	for i := len(raw) - 1; i >= 0 && host > 0; i-- {
		n := min(host, 8)
		raw[i] |= byte(1<<n - 1)
		host -= n
	}
	last, _ := netip.AddrFromSlice(raw)
	return Pool{First: first, Last: last}
}

// Contains reports whether a is in the pool.
func (p Pool) Contains(a netip.Addr) bool {
	a = a.Unmap()
	return p.First.Is4() == a.Is4() && p.First.Compare(a) <= 0 && a.Compare(p.Last) <= 0
}

// String returns the pool as "first-last".
func (p Pool) String() string { return p.First.String() + "-" + p.Last.String() }

// addrs tracks which pool addresses are held, and by which Service key.
type addrs struct {
	pools []Pool
	owner map[netip.Addr]string
}

func newAddrs(pools []Pool) *addrs {
	return &addrs{pools: pools, owner: map[netip.Addr]string{}}
}

// inPools reports whether a is in one of the pools.
func (s *addrs) inPools(a netip.Addr) bool {
	for _, p := range s.pools {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// hasFamily reports whether some pool is of a's family (IPv6 when v6).
func (s *addrs) hasFamily(v6 bool) bool {
	for _, p := range s.pools {
		if p.First.Is6() == v6 {
			return true
		}
	}
	return false
}

// claim gives a to key if it is in a pool and free or already key's. It
// returns the current owner when a is held by another key.
func (s *addrs) claim(a netip.Addr, key string) (owner string, ok bool) {
	if !s.inPools(a) {
		return "", false
	}
	if o, held := s.owner[a]; held && o != key {
		return o, false
	}
	s.owner[a] = key
	return key, true
}

// allocate gives key the lowest free address of the family (IPv6 when v6),
// scanning the pools in order.
func (s *addrs) allocate(key string, v6 bool) (netip.Addr, error) {
	for _, p := range s.pools {
		if p.First.Is6() != v6 {
			continue
		}
		for a := p.First; a.IsValid() && a.Compare(p.Last) <= 0; a = a.Next() {
			if _, held := s.owner[a]; !held {
				s.owner[a] = key
				return a, nil
			}
		}
	}
	return netip.Addr{}, ErrPoolExhausted
}

// release frees a if key holds it.
func (s *addrs) release(a netip.Addr, key string) {
	if s.owner[a] == key {
		delete(s.owner, a)
	}
}

package service

import (
	"context"
	"errors"
	"net/netip"
	"sync"

	corev1 "k8s.io/api/core/v1"

	"github.com/svcnet/svcnet/internal/allocator/ipallocator"
	"github.com/svcnet/svcnet/internal/storage"
)

// extraRanges hands out ClusterIPs from the ServiceCIDRs beyond
// --service-cluster-ip-range: a requested address inside one is accepted,
// and a dynamic one comes from them once the flag range of its family is
// full. Each range gets a bitmap of its own, loaded from storage when the
// range first shows up; like the flag ranges' bitmaps they are only hints,
// the reservation keys decide.
type extraRanges struct {
	list  func(ctx context.Context) ([]netip.Prefix, error)
	store storage.Interface
	skip  []netip.Prefix // the flag ranges, served by Hooks.ips

	mu     sync.Mutex
	allocs map[netip.Prefix]*ipallocator.Allocator
}

// current returns the allocators of the ranges list reports now (nil when
// no list is configured), creating those it has not seen before.
func (e *extraRanges) current(ctx context.Context) ([]*ipallocator.Allocator, error) {
	if e == nil || e.list == nil {
		return nil, nil
	}
	prefixes, err := e.list(ctx)
	if err != nil {
		return nil, err
	}
	var out []*ipallocator.Allocator
	seen := map[netip.Prefix]bool{}
	for _, p := range prefixes {
		p = p.Masked()
		if containsPrefix(e.skip, p) || seen[p] {
			continue
		}
		seen[p] = true
		a, err := e.allocator(ctx, p)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	e.prune(seen)
	return out, nil
}

// prune forgets the bitmaps of ranges no longer listed (ServiceCIDRs
// deleted or being deleted).
func (e *extraRanges) prune(keep map[netip.Prefix]bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for p := range e.allocs {
		if !keep[p] {
			delete(e.allocs, p)
		}
	}
}

func containsPrefix(ps []netip.Prefix, p netip.Prefix) bool {
	for _, q := range ps {
		if q == p {
			return true
		}
	}
	return false
}

func (e *extraRanges) allocator(ctx context.Context, p netip.Prefix) (*ipallocator.Allocator, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if a := e.allocs[p]; a != nil {
		return a, nil
	}
	a, err := ipallocator.New(ipallocator.Config{CIDR: p})
	if err != nil {
		return nil, err
	}
	if e.store != nil {
		if err := a.Refresh(ctx, e.store); err != nil {
			return nil, err
		}
	}
	if e.allocs == nil {
		e.allocs = map[netip.Prefix]*ipallocator.Allocator{}
	}
	e.allocs[p] = a
	return a, nil
}

// allocate marks a requested ip used in the extra range holding it. ok is
// false when no such range exists; undo is nil when the bitmap already
// had it marked (storage then decides).
func (e *extraRanges) allocate(ctx context.Context, ip netip.Addr) (undo func(), ok bool, err error) {
	allocs, err := e.current(ctx)
	if err != nil {
		return nil, false, err
	}
	for _, a := range allocs {
		if !a.Contains(ip) {
			continue
		}
		if err := a.Allocate(ip); err == nil {
			return func() { a.Release(ip) }, true, nil
		}
		return nil, true, nil
	}
	return nil, false, nil
}

// next picks a free address of family fam from the extra ranges, in the
// order list gives them.
func (e *extraRanges) next(ctx context.Context, fam corev1.IPFamily) (netip.Addr, func(), error) {
	allocs, err := e.current(ctx)
	if err != nil {
		return netip.Addr{}, nil, err
	}
	for _, a := range allocs {
		if a.IsIPv6() != (fam == corev1.IPv6Protocol) {
			continue
		}
		ip, err := a.AllocateNext()
		if errors.Is(err, ipallocator.ErrFull) && e.store != nil {
			if rerr := a.Refresh(ctx, e.store); rerr == nil {
				ip, err = a.AllocateNext()
			}
		}
		if err == nil {
			return ip, func() { a.Release(ip) }, nil
		}
	}
	return netip.Addr{}, nil, ipallocator.ErrFull
}

// release clears ip from the extra ranges' bitmaps.
func (e *extraRanges) release(ip netip.Addr) {
	if e == nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, a := range e.allocs {
		a.Release(ip)
	}
}

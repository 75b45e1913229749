package repair

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/svcnet/svcnet/internal/allocator/ipallocator"
	"github.com/svcnet/svcnet/internal/allocator/portallocator"
	"github.com/svcnet/svcnet/internal/registry/core/service"
	"github.com/svcnet/svcnet/internal/storage"
)

// ServicePrefix is where Services are stored; the owner of a reservation
// is the storage key of the Service holding it. Reservations with other
// owners (IPAddresses clients created for other parents) are left alone.
const ServicePrefix = ipallocator.ServicePrefix

// defaultInterval is upstream's repair period for both allocators.
const defaultInterval = 3 * time.Minute

// Config configures a Repair.
type Config struct {
	// Store holds the Services and the reservations.
	Store storage.Interface
	// IPAllocators and PortAllocator, when set, get their bitmaps rebuilt
	// from storage after every run.
	IPAllocators  []*ipallocator.Allocator
	PortAllocator *portallocator.Allocator
	// ServiceCIDRs, when set, returns the ranges of the ServiceCIDR objects
	// not being deleted: ClusterIPs inside them are not reported as out of
	// range.
	ServiceCIDRs func(ctx context.Context) ([]netip.Prefix, error)
	// Interval between runs; 3 minutes when zero.
	Interval time.Duration
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Counts is what the runs so far have fixed or found.
type Counts struct {
	// Reserved counts values Services used without a reservation.
	Reserved int
	// Released counts reservations whose owner no longer used them.
	Released int
	// Duplicates counts values found held by more than one Service.
	Duplicates int
}

// Repair is the reconciliation loop.
type Repair struct {
	cfg Config
	log *slog.Logger

	mu sync.Mutex
	// suspects are the leaks (key -> owner) seen by the previous run.
	suspects map[string]string
	counts   Counts
}

// New returns a Repair for cfg.
func New(cfg Config) (*Repair, error) {
	if cfg.Store == nil {
		return nil, errors.New("repair: no store")
	}
	if cfg.Interval <= 0 {
		cfg.Interval = defaultInterval
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Repair{cfg: cfg, log: log, suspects: map[string]string{}}, nil
}

// Run repairs once now and then every Interval until ctx ends.
func (r *Repair) Run(ctx context.Context) error {
	t := time.NewTicker(r.cfg.Interval)
	defer t.Stop()
	for {
		if err := r.RunOnce(ctx); err != nil && ctx.Err() == nil {
			r.log.Warn("Repair of service allocations failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Counts returns what every run so far has fixed or found.
func (r *Repair) Counts() Counts {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.counts
}

// RunOnce reconciles reservations with Services once and rebuilds the
// allocators' bitmaps. Runs must not overlap; Run serialises them.
func (r *Repair) RunOnce(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	// Reservations are read before Services: a Service created in between
	// then finds its keys already there, and one deleted in between only
	// leaves a suspect that the next run confirms.
	have := map[string]string{}
	for _, prefix := range []string{ipallocator.KeyPrefix, portallocator.KeyPrefix} {
		keys, _, err := r.cfg.Store.Reservations(ctx, prefix)
		if err != nil {
			return fmt.Errorf("listing reservations: %w", err)
		}
		for k, owner := range keys {
			have[k] = owner
		}
	}
	var list corev1.ServiceList
	if err := r.cfg.Store.GetList(ctx, ServicePrefix, storage.ListOptions{}, &list); err != nil {
		return fmt.Errorf("listing services: %w", err)
	}

	var extra []netip.Prefix
	if r.cfg.ServiceCIDRs != nil {
		var err error
		if extra, err = r.cfg.ServiceCIDRs(ctx); err != nil {
			return fmt.Errorf("listing service CIDRs: %w", err)
		}
	}
	// want: key -> owners that use it.
	want := map[string][]string{}
	for i := range list.Items {
		svc := &list.Items[i]
		owner := ServicePrefix + svc.Namespace + "/" + svc.Name
		r.checkRange(svc, extra)
		for _, k := range service.HeldKeys(svc) {
			want[k] = append(want[k], owner)
		}
	}

	var errs []error
	for _, k := range sortedKeys(want) {
		owners := want[k]
		if len(owners) > 1 {
			r.counts.Duplicates++
			r.log.Error("Found a value held by several services", "key", k, "services", owners)
		}
		if _, ok := have[k]; ok {
			continue
		}
		err := r.cfg.Store.Reserve(ctx, k, owners[0])
		switch {
		case err == nil:
			r.counts.Reserved++
			r.log.Info("Reserved value a service used without reservation", "key", k, "service", owners[0])
		case storage.IsReserved(err):
			// Taken meanwhile by a write in flight: the next run looks again.
		default:
			errs = append(errs, fmt.Errorf("reserving %s: %w", k, err))
		}
	}

	suspects := map[string]string{}
	for _, k := range sortedKeys(have) {
		owner := have[k]
		if contains(want[k], owner) {
			continue
		}
		if !strings.HasPrefix(owner, ServicePrefix) {
			if owners := want[k]; len(owners) > 0 {
				r.counts.Duplicates++
				r.log.Error("Found a value a service uses held by another resource", "key", k, "holder", owner, "services", owners)
			}
			continue
		}
		if r.suspects[k] != owner {
			suspects[k] = owner
			continue
		}
		if err := r.cfg.Store.Release(ctx, k, owner); err != nil {
			errs = append(errs, fmt.Errorf("releasing %s: %w", k, err))
			suspects[k] = owner
			continue
		}
		r.counts.Released++
		r.log.Info("Released leaked reservation", "key", k, "owner", owner)
		if owners := want[k]; len(owners) > 0 {
			// Another service uses the value: hand the key over to it.
			if err := r.cfg.Store.Reserve(ctx, k, owners[0]); err == nil {
				r.counts.Reserved++
				r.log.Info("Reserved value a service used without reservation", "key", k, "service", owners[0])
			} else if !storage.IsReserved(err) {
				errs = append(errs, fmt.Errorf("reserving %s: %w", k, err))
			}
		}
	}
	r.suspects = suspects

	if err := r.rebuild(ctx); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// rebuild refreshes the bitmaps from the reservations now in storage.
func (r *Repair) rebuild(ctx context.Context) error {
	for _, a := range r.cfg.IPAllocators {
		if err := a.Refresh(ctx, r.cfg.Store); err != nil {
			return err
		}
	}
	if r.cfg.PortAllocator != nil {
		return r.cfg.PortAllocator.Refresh(ctx, r.cfg.Store)
	}
	return nil
}

// checkRange logs clusterIPs outside every configured range (the range was
// changed after the Service was created): they stay reserved but cannot be
// told apart from the new range's addresses by the bitmaps.
func (r *Repair) checkRange(svc *corev1.Service, extra []netip.Prefix) {
	if len(r.cfg.IPAllocators) == 0 || svc.Spec.Type == corev1.ServiceTypeExternalName {
		return
	}
	for _, k := range service.HeldKeys(svc) {
		ip, ok := ipallocator.ParseKey(k)
		if !ok {
			continue
		}
		in := false
		for _, a := range r.cfg.IPAllocators {
			in = in || a.Contains(ip)
		}
		for _, p := range extra {
			in = in || p.Contains(ip)
		}
		if !in {
			r.log.Warn("Found a cluster IP outside the service CIDRs", "service", svc.Namespace+"/"+svc.Name, "clusterIP", ip.String())
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

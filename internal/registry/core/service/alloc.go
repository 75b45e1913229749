package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"weak"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/svcnet/svcnet/internal/allocator/ipallocator"
	"github.com/svcnet/svcnet/internal/allocator/portallocator"
	"github.com/svcnet/svcnet/internal/registry"
	"github.com/svcnet/svcnet/internal/storage"
)

var serviceKind = schema.GroupKind{Kind: "Service"}

// Config configures the services resource.
type Config struct {
	// IPAllocators has one allocator per --service-cluster-ip-range, the
	// primary (default family) first; at most one per family.
	IPAllocators []*ipallocator.Allocator
	// PortAllocator hands out nodePorts and healthCheckNodePorts.
	PortAllocator *portallocator.Allocator
	// Store, when set, is read to rebuild the allocators' bitmaps before the
	// first allocation and whenever a bitmap says a range is full.
	Store storage.Interface
	// ServiceCIDRs, when set, returns the ranges of the networking.k8s.io
	// ServiceCIDRs not being deleted: ClusterIPs may also come from those
	// (requested ones, and dynamic ones once a flag range is full).
	ServiceCIDRs func(ctx context.Context) ([]netip.Prefix, error)
	// DenyExternalIPs refuses Services that add spec.externalIPs with 403,
	// as upstream's DenyServiceExternalIPs admission plugin
	// (--deny-external-ips; CVE-2020-8554).
	DenyExternalIPs bool
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Hooks allocates ClusterIPs and NodePorts inside the write path: values
// chosen or requested become reservation keys written in the same
// transaction as the Service, values the Service stops using are released
// in it.
type Hooks struct {
	ips     map[corev1.IPFamily]*ipallocator.Allocator
	primary corev1.IPFamily
	ports   *portallocator.Allocator
	store   storage.Interface
	log     *slog.Logger
	synced  atomic.Bool
	extra   *extraRanges
	denyEIP bool

	// dynamic remembers, per candidate object, which of its reservation
	// keys were chosen here (and may be retried) rather than requested by
	// the client. Entries go away with the object.
	mu      sync.Mutex
	dynamic map[weak.Pointer[corev1.Service]]map[string]bool
}

var _ registry.Hooks = (*Hooks)(nil)

// NewHooks returns the allocation hooks of cfg.
func NewHooks(cfg Config) (*Hooks, error) {
	h := &Hooks{
		ips:     map[corev1.IPFamily]*ipallocator.Allocator{},
		ports:   cfg.PortAllocator,
		store:   cfg.Store,
		log:     cfg.Logger,
		dynamic: map[weak.Pointer[corev1.Service]]map[string]bool{},
		extra:   &extraRanges{list: cfg.ServiceCIDRs, store: cfg.Store},
		denyEIP: cfg.DenyExternalIPs,
	}
	for _, a := range cfg.IPAllocators {
		h.extra.skip = append(h.extra.skip, a.CIDR())
	}
	if h.log == nil {
		h.log = slog.Default()
	}
	if len(cfg.IPAllocators) == 0 || len(cfg.IPAllocators) > 2 {
		return nil, fmt.Errorf("service: want one or two IP allocators, got %d", len(cfg.IPAllocators))
	}
	if cfg.PortAllocator == nil {
		return nil, errors.New("service: no port allocator")
	}
	for i, a := range cfg.IPAllocators {
		fam := corev1.IPv4Protocol
		if a.IsIPv6() {
			fam = corev1.IPv6Protocol
		}
		if h.ips[fam] != nil {
			return nil, fmt.Errorf("service: two IP allocators of family %s", fam)
		}
		h.ips[fam] = a
		if i == 0 {
			h.primary = fam
		}
	}
	return h, nil
}

// plan collects what one write reserves.
type plan struct {
	reserve []string
	seen    map[string]bool
	dynamic map[string]bool
	undo    []func()
}

func (p *plan) add(key string, dynamic bool, undo func()) {
	if p.seen == nil {
		p.seen, p.dynamic = map[string]bool{}, map[string]bool{}
	}
	if undo != nil {
		p.undo = append(p.undo, undo)
	}
	if p.seen[key] {
		return
	}
	p.seen[key] = true
	p.reserve = append(p.reserve, key)
	if dynamic {
		p.dynamic[key] = true
	}
}

func (p *plan) abort() {
	for _, u := range p.undo {
		u()
	}
}

// BeforeCreate defaults the IP family fields, allocates clusterIPs,
// nodePorts and the healthCheckNodePort of obj, and returns their keys.
func (h *Hooks) BeforeCreate(ctx context.Context, obj k8sruntime.Object) (storage.WriteOptions, error) {
	if err := h.admitExternalIPs(obj.(*corev1.Service), nil); err != nil {
		return storage.WriteOptions{}, err
	}
	return h.allocate(ctx, obj.(*corev1.Service), nil)
}

// BeforeUpdate does what BeforeCreate does for values obj adds over old,
// and releases the values old held that obj no longer uses.
func (h *Hooks) BeforeUpdate(ctx context.Context, obj, old k8sruntime.Object) (storage.WriteOptions, error) {
	if err := h.admitExternalIPs(obj.(*corev1.Service), old.(*corev1.Service)); err != nil {
		return storage.WriteOptions{}, err
	}
	return h.allocate(ctx, obj.(*corev1.Service), old.(*corev1.Service))
}

// admitExternalIPs refuses, under DenyExternalIPs, a Service that has an
// external IP old (nil on create) did not have; keeping or removing them
// is allowed, as upstream's plugin allows it.
func (h *Hooks) admitExternalIPs(svc, old *corev1.Service) error {
	if !h.denyEIP {
		return nil
	}
	for _, ip := range svc.Spec.ExternalIPs {
		if old == nil || !slices.Contains(old.Spec.ExternalIPs, ip) {
			return apierrors.NewForbidden(corev1.Resource("services"), svc.Name,
				errors.New("Use of external IPs is denied by admission control"))
		}
	}
	return nil
}

// BeforeDelete releases every value obj holds.
func (h *Hooks) BeforeDelete(_ context.Context, obj k8sruntime.Object) storage.WriteOptions {
	svc := obj.(*corev1.Service)
	var opts storage.WriteOptions
	for k := range heldKeys(svc) {
		opts.Release = append(opts.Release, k)
		h.forget(k)
	}
	return opts
}

// ReservationConflict turns a taken key into upstream's 422 when the client
// asked for that value, or nil (retry) when it was chosen here.
func (h *Hooks) ReservationConflict(obj k8sruntime.Object, key string) error {
	svc := obj.(*corev1.Service)
	if h.wasDynamic(svc, key) {
		h.log.Debug("Retried taken allocation", "service", svc.Namespace+"/"+svc.Name, "key", key)
		return nil
	}
	if ip, ok := ipallocator.ParseKey(key); ok {
		return apierrors.NewInvalid(serviceKind, svc.Name, field.ErrorList{field.Invalid(field.NewPath("spec", "clusterIPs"),
			svc.Spec.ClusterIPs, fmt.Sprintf("failed to allocate IP %s: %v", ip, ipallocator.ErrAllocated))})
	}
	if port, ok := portallocator.ParseKey(key); ok {
		for i, p := range svc.Spec.Ports {
			if int(p.NodePort) == port {
				return apierrors.NewInvalid(serviceKind, svc.Name, field.ErrorList{field.Invalid(
					field.NewPath("spec", "ports").Index(i).Child("nodePort"), p.NodePort, portallocator.ErrAllocated.Error())})
			}
		}
		return apierrors.NewInternalError(fmt.Errorf("failed to allocate requested HealthCheck NodePort %d: %w", port, portallocator.ErrAllocated))
	}
	return apierrors.NewInternalError(fmt.Errorf("reservation %s already taken", key))
}

func (h *Hooks) allocate(ctx context.Context, svc, old *corev1.Service) (storage.WriteOptions, error) {
	h.ensureSynced(ctx)
	if el := h.initIPFamilyFields(svc, old); len(el) > 0 {
		return storage.WriteOptions{}, apierrors.NewInvalid(serviceKind, svc.Name, el)
	}
	var held map[string]bool
	if old != nil {
		held = heldKeys(old)
	}
	p := &plan{}
	if err := h.allocClusterIPs(ctx, svc, held, p); err != nil {
		p.abort()
		return storage.WriteOptions{}, err
	}
	if err := h.allocNodePorts(ctx, svc, old == nil, held, p); err != nil {
		p.abort()
		return storage.WriteOptions{}, err
	}
	opts := storage.WriteOptions{Reserve: p.reserve}
	now := heldKeys(svc)
	for k := range held {
		if !now[k] {
			opts.Release = append(opts.Release, k)
			h.forget(k)
		}
	}
	h.remember(svc, p.dynamic)
	return opts, nil
}

// allocClusterIPs fills the empty clusterIPs slots of svc, one per family,
// and reserves every address it did not hold before.
func (h *Hooks) allocClusterIPs(ctx context.Context, svc *corev1.Service, held map[string]bool, p *plan) error {
	spec := &svc.Spec
	if spec.Type == corev1.ServiceTypeExternalName || isHeadless(svc) {
		return nil
	}
	for i, fam := range spec.IPFamilies {
		if i >= len(spec.ClusterIPs) {
			spec.ClusterIPs = append(spec.ClusterIPs, "")
		}
		a := h.ips[fam]
		s := spec.ClusterIPs[i]
		if s == "" {
			if a == nil {
				return apierrors.NewInternalError(fmt.Errorf("failed to allocate a serviceIP: %s is not configured", fam))
			}
			ip, err := h.nextIP(ctx, a)
			undo := func() { a.Release(ip) }
			if errors.Is(err, ipallocator.ErrFull) {
				ip, undo, err = h.extra.next(ctx, fam)
			}
			if err != nil {
				return apierrors.NewInternalError(fmt.Errorf("failed to allocate a serviceIP: %w", err))
			}
			spec.ClusterIPs[i] = ip.String()
			p.add(ipallocator.Key(ip), true, undo)
			continue
		}
		ip, err := netip.ParseAddr(s)
		if err != nil {
			ip, err = parseLegacyIPv4(s)
		}
		if err != nil {
			return apierrors.NewInternalError(fmt.Errorf("failed to parse service IP %q", s))
		}
		key := ipallocator.Key(ip)
		if held[key] {
			continue
		}
		if a == nil {
			return apierrors.NewInvalid(serviceKind, svc.Name, field.ErrorList{field.Invalid(field.NewPath("spec", "clusterIPs"),
				spec.ClusterIPs, fmt.Sprintf("failed to allocate IP %s: %s is not configured on this cluster", s, fam))})
		}
		var undo func()
		switch err := a.Allocate(ip); {
		case err == nil:
			undo = func() { a.Release(ip) }
		case !errors.Is(err, ipallocator.ErrAllocated):
			// Outside the flag range (a marked bitmap, ErrAllocated, is
			// only a hint: storage decides): it may be in a ServiceCIDR.
			var ok bool
			var xerr error
			if undo, ok, xerr = h.extra.allocate(ctx, ip); xerr != nil {
				return apierrors.NewInternalError(fmt.Errorf("failed to allocate IP %s: %w", s, xerr))
			}
			if ok {
				break
			}
			return apierrors.NewInvalid(serviceKind, svc.Name, field.ErrorList{field.Invalid(field.NewPath("spec", "clusterIPs"),
				spec.ClusterIPs, fmt.Sprintf("failed to allocate IP %s: %v", s, err))})
		}
		p.add(key, false, undo)
	}
	if len(spec.ClusterIPs) > 0 {
		spec.ClusterIP = spec.ClusterIPs[0]
	}
	return nil
}

// allocNodePorts gives every port of a NodePort/LoadBalancer service a
// nodePort (ports of the same number share one on create, as upstream
// does), and a healthCheckNodePort to LoadBalancers with
// externalTrafficPolicy Local.
func (h *Hooks) allocNodePorts(ctx context.Context, svc *corev1.Service, create bool, held map[string]bool, p *plan) error {
	spec := &svc.Spec
	a := h.ports
	requested := func(port int32) error {
		key := portallocator.Key(int(port))
		if held[key] || p.seen[key] {
			return nil
		}
		var undo func()
		switch err := a.Allocate(int(port)); {
		case err == nil:
			undo = func() { a.Release(int(port)) }
		case !errors.Is(err, portallocator.ErrAllocated):
			return err
		}
		p.add(key, false, undo)
		return nil
	}
	next := func() (int32, error) {
		port, err := h.nextPort(ctx)
		if err != nil {
			return 0, err
		}
		p.add(portallocator.Key(port), true, func() { a.Release(port) })
		return int32(port), nil
	}
	if needsNodePort(svc) {
		byPort := map[int32]int32{}
		for i := range spec.Ports {
			sp := &spec.Ports[i]
			if sp.NodePort == 0 && !shouldAllocateNodePorts(svc) {
				continue
			}
			if sp.NodePort == 0 && create {
				if np := byPort[sp.Port]; np != 0 {
					sp.NodePort = np
					continue
				}
				if np := requestedNodePort(sp.Port, spec.Ports); np != 0 {
					sp.NodePort = np
				}
			}
			if sp.NodePort == 0 {
				np, err := next()
				if err != nil {
					return apierrors.NewInternalError(fmt.Errorf("failed to allocate a nodePort: %w", err))
				}
				sp.NodePort = np
			} else if err := requested(sp.NodePort); err != nil {
				return apierrors.NewInvalid(serviceKind, svc.Name, field.ErrorList{field.Invalid(
					field.NewPath("spec", "ports").Index(i).Child("nodePort"), sp.NodePort, err.Error())})
			}
			if byPort[sp.Port] == 0 {
				byPort[sp.Port] = sp.NodePort
			}
		}
	}
	if needsHealthCheck(svc) {
		if spec.HealthCheckNodePort == 0 {
			np, err := next()
			if err != nil {
				return apierrors.NewInternalError(fmt.Errorf("failed to allocate a HealthCheck NodePort: %w", err))
			}
			spec.HealthCheckNodePort = np
		} else if err := requested(spec.HealthCheckNodePort); err != nil {
			return apierrors.NewInternalError(fmt.Errorf("failed to allocate requested HealthCheck NodePort %d: %w",
				spec.HealthCheckNodePort, err))
		}
	}
	return nil
}

// requestedNodePort is the nodePort the client gave any port numbered port.
func requestedNodePort(port int32, ports []corev1.ServicePort) int32 {
	for _, p := range ports {
		if p.Port == port && p.NodePort != 0 {
			return p.NodePort
		}
	}
	return 0
}

// shouldAllocateNodePorts: LoadBalancers may opt out of node ports.
func shouldAllocateNodePorts(svc *corev1.Service) bool {
	switch svc.Spec.Type {
	case corev1.ServiceTypeNodePort:
		return true
	case corev1.ServiceTypeLoadBalancer:
		return svc.Spec.AllocateLoadBalancerNodePorts == nil || *svc.Spec.AllocateLoadBalancerNodePorts
	}
	return false
}

// HeldKeys returns the reservation keys a stored service holds: its
// clusterIPs, nodePorts and healthCheckNodePort.
func HeldKeys(svc *corev1.Service) []string {
	keys := make([]string, 0, 4)
	for k := range heldKeys(svc) {
		keys = append(keys, k)
	}
	return keys
}

func heldKeys(svc *corev1.Service) map[string]bool {
	keys := map[string]bool{}
	if svc.Spec.Type != corev1.ServiceTypeExternalName {
		for _, s := range svc.Spec.ClusterIPs {
			if s == "" || s == corev1.ClusterIPNone {
				continue
			}
			ip, err := netip.ParseAddr(s)
			if err != nil {
				if ip, err = parseLegacyIPv4(s); err != nil {
					continue
				}
			}
			keys[ipallocator.Key(ip)] = true
		}
	}
	for _, p := range svc.Spec.Ports {
		if p.NodePort != 0 {
			keys[portallocator.Key(int(p.NodePort))] = true
		}
	}
	if svc.Spec.HealthCheckNodePort != 0 {
		keys[portallocator.Key(int(svc.Spec.HealthCheckNodePort))] = true
	}
	return keys
}

// parseLegacyIPv4 accepts IPv4 octets with leading zeros, as upstream's
// legacy IP fields do (they mean decimal, not octal).
func parseLegacyIPv4(s string) (netip.Addr, error) {
	var b [4]byte
	var n [4]int
	if c, err := fmt.Sscanf(s, "%d.%d.%d.%d", &n[0], &n[1], &n[2], &n[3]); err != nil || c != 4 {
		return netip.Addr{}, fmt.Errorf("invalid IP %q", s)
	}
	for i, v := range n {
		if v < 0 || v > 255 {
			return netip.Addr{}, fmt.Errorf("invalid IP %q", s)
		}
		b[i] = byte(v)
	}
	return netip.AddrFrom4(b), nil
}

// nextIP picks a free address, re-reading storage once if the bitmap says
// the range is full (it may hold stale marks).
func (h *Hooks) nextIP(ctx context.Context, a *ipallocator.Allocator) (netip.Addr, error) {
	ip, err := a.AllocateNext()
	if errors.Is(err, ipallocator.ErrFull) && h.store != nil {
		if rerr := a.Refresh(ctx, h.store); rerr == nil {
			ip, err = a.AllocateNext()
		}
	}
	return ip, err
}

// nextPort is nextIP for node ports.
func (h *Hooks) nextPort(ctx context.Context) (int, error) {
	port, err := h.ports.AllocateNext()
	if errors.Is(err, portallocator.ErrFull) && h.store != nil {
		if rerr := h.ports.Refresh(ctx, h.store); rerr == nil {
			port, err = h.ports.AllocateNext()
		}
	}
	return port, err
}

// ensureSynced loads the bitmaps from storage before the first allocation.
func (h *Hooks) ensureSynced(ctx context.Context) {
	if h.store == nil || h.synced.Load() {
		return
	}
	if err := h.Refresh(ctx); err != nil {
		h.log.Warn("Failed to load allocations", "err", err)
		return
	}
	h.synced.Store(true)
}

// Refresh rebuilds every allocator's bitmap from the reservation keys in
// the configured store.
func (h *Hooks) Refresh(ctx context.Context) error {
	if h.store == nil {
		return nil
	}
	for _, a := range h.ips {
		if err := a.Refresh(ctx, h.store); err != nil {
			return err
		}
	}
	return h.ports.Refresh(ctx, h.store)
}

// forget clears a released key from the bitmaps.
func (h *Hooks) forget(key string) {
	if ip, ok := ipallocator.ParseKey(key); ok {
		for _, a := range h.ips {
			a.Release(ip)
		}
		h.extra.release(ip)
		return
	}
	if port, ok := portallocator.ParseKey(key); ok {
		h.ports.Release(port)
	}
}

// remember records which keys of svc were chosen dynamically, for as long
// as svc is reachable.
func (h *Hooks) remember(svc *corev1.Service, dynamic map[string]bool) {
	if len(dynamic) == 0 {
		return
	}
	wp := weak.Make(svc)
	h.mu.Lock()
	h.dynamic[wp] = dynamic
	h.mu.Unlock()
	runtime.AddCleanup(svc, func(wp weak.Pointer[corev1.Service]) {
		h.mu.Lock()
		delete(h.dynamic, wp)
		h.mu.Unlock()
	}, wp)
}

func (h *Hooks) wasDynamic(svc *corev1.Service, key string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.dynamic[weak.Make(svc)][key]
}

package service

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

func TestServiceCIDRRanges(t *testing.T) {
	h := newHarness(t, "10.96.0.0/30") // two usable addresses
	requested := func(ip string) func(*corev1.Service) {
		return func(s *corev1.Service) { s.Spec.ClusterIP = ip }
	}

	if _, err := h.create(svc("early", corev1.ServiceTypeClusterIP, requested("203.0.113.5"))); !apierrors.IsInvalid(err) ||
		!strings.Contains(err.Error(), "not in the valid range") {
		t.Errorf("IP outside every range: got %v, want 422 not in the valid range", err)
	}

	extra := []netip.Prefix{netip.MustParsePrefix("10.96.0.0/30"), netip.MustParsePrefix("203.0.113.0/29")}
	h.hooks.extra.list = func(context.Context) ([]netip.Prefix, error) { return extra, nil }

	got := h.mustCreate(svc("requested", corev1.ServiceTypeClusterIP, requested("203.0.113.5")))
	if got.Spec.ClusterIP != "203.0.113.5" {
		t.Errorf("requested: got %s, want 203.0.113.5", got.Spec.ClusterIP)
	}
	if _, err := h.create(svc("again", corev1.ServiceTypeClusterIP, requested("203.0.113.5"))); !apierrors.IsInvalid(err) ||
		!strings.Contains(err.Error(), "provided IP is already allocated") {
		t.Errorf("same IP twice: got %v, want 422 already allocated", err)
	}
	if _, err := h.create(svc("outside", corev1.ServiceTypeClusterIP, requested("198.51.100.1"))); !apierrors.IsInvalid(err) {
		t.Errorf("IP outside every range: got %v, want 422", err)
	}

	// The flag range fills first; then addresses come from the ServiceCIDR.
	seen := map[string]bool{}
	for _, name := range []string{"a", "b", "c"} {
		s := h.mustCreate(svc(name, corev1.ServiceTypeClusterIP))
		seen[s.Spec.ClusterIP] = true
	}
	want := map[string]bool{"10.96.0.1": true, "10.96.0.2": true}
	inExtra := 0
	for ip := range seen {
		if netip.MustParsePrefix("203.0.113.0/29").Contains(netip.MustParseAddr(ip)) {
			inExtra++
		} else if !want[ip] {
			t.Errorf("got clusterIP %s outside both ranges", ip)
		}
	}
	if inExtra != 1 || len(seen) != 3 {
		t.Errorf("got clusterIPs %v, want the two flag addresses and one of the ServiceCIDR", seen)
	}

	if len(h.hooks.extra.allocs) != 1 {
		t.Errorf("got %d extra bitmaps, want one (the flag range is not doubled)", len(h.hooks.extra.allocs))
	}
	h.delete("requested")
	if _, err := h.create(svc("reuse", corev1.ServiceTypeClusterIP, requested("203.0.113.5"))); err != nil {
		t.Errorf("released IP requested again: %v", err)
	}
}

func TestServiceCIDRRangeRemoved(t *testing.T) {
	h := newHarness(t, "10.96.0.0/24")
	extra := []netip.Prefix{netip.MustParsePrefix("203.0.113.0/29")}
	h.hooks.extra.list = func(context.Context) ([]netip.Prefix, error) { return extra, nil }
	h.mustCreate(svc("in", corev1.ServiceTypeClusterIP, func(s *corev1.Service) { s.Spec.ClusterIP = "203.0.113.2" }))
	extra = nil // the ServiceCIDR is being deleted
	if _, err := h.create(svc("late", corev1.ServiceTypeClusterIP, func(s *corev1.Service) { s.Spec.ClusterIP = "203.0.113.3" })); !apierrors.IsInvalid(err) {
		t.Errorf("address of a removed range: got %v, want 422", err)
	}
	if len(h.hooks.extra.allocs) != 0 {
		t.Errorf("got %d extra bitmaps, want the removed range's forgotten", len(h.hooks.extra.allocs))
	}
	h.delete("in") // its address is released without the bitmap
}

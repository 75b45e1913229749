package iptables

import (
	"context"
	"fmt"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/svcnet/svcnet/internal/proxy"
	pt "github.com/svcnet/svcnet/internal/proxy/proxytest"
)

// inPrivateNetns runs fn on a thread moved into a network namespace of its
// own, so the iptables binaries it execs (forked from that thread) see
// empty tables and cannot disturb other tests sharing the test netns. The
// thread is never unlocked: it dies with its goroutine.
func inPrivateNetns(fn func() error) error {
	ch := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			ch <- fmt.Errorf("unshare: %w", err)
			return
		}
		ns, err := netns.Get()
		if err != nil {
			ch <- err
			return
		}
		defer ns.Close()
		ch <- fn()
	}()
	return <-ch
}

// TestRealIPTables programs the flow table with the real iptables-restore:
// a full sync, a partial sync deleting chains, a full sync of a new
// Proxier over the existing rules (restart), then Cleanup.
func TestRealIPTables(t *testing.T) {
	pt.RequireNetns(t)
	if _, err := exec.LookPath("iptables-restore"); err != nil {
		t.Skip("iptables-restore not installed")
	}
	ctx := context.Background()
	save := func() string {
		var b strings.Builder
		for _, table := range []string{tableFilter, tableNAT} {
			out, err := exec.Command("iptables-save", "-t", table).CombinedOutput()
			if err != nil {
				t.Errorf("iptables-save: %v\n%s", err, out)
			}
			b.Write(out)
		}
		return b.String()
	}
	err := inPrivateNetns(func() error {
		cfg := testConfig()
		cfg.NodePortAddresses = []string{"192.168.0.0/16"}
		p, err := New(Config{BackendConfig: cfg})
		if err != nil {
			return fmt.Errorf("New: %w", err)
		}
		s := pt.Flows()
		s.Services = append(s.Services, sourceRanges().Services...)
		s.Slices = append(s.Slices, sourceRanges().Slices...)
		tr := proxy.NewTracker(pt.NodeName, proxy.ServiceOptions{})
		for _, svc := range s.Services {
			tr.SetService(svc)
		}
		for _, sl := range s.Slices {
			tr.SetEndpointSlice(sl)
		}
		snap := tr.Snapshot(true)
		if err := p.Sync(ctx, snap.State); err != nil {
			return fmt.Errorf("full sync: %w", err)
		}
		tr.Synced(snap)

		web := s.Services[0].DeepCopy()
		web.Spec.SessionAffinity = "ClientIP"
		tr.SetService(web)
		tr.DeleteService("ns3", "affinity")
		snap = tr.Snapshot(false)
		if err := p.Sync(ctx, snap.State); err != nil {
			return fmt.Errorf("partial sync: %w", err)
		}
		tr.Synced(snap)

		p2, err := New(Config{BackendConfig: cfg})
		if err != nil {
			return err
		}
		if err := p2.Sync(ctx, tr.Snapshot(true).State); err != nil {
			return fmt.Errorf("full sync over existing rules: %w", err)
		}
		out := save()
		for _, want := range []string{"ns1/web:p80", "--probability 0.50000", "--rcheck --seconds 10800 --reap",
			"-m comment --comment svcnet -j KUBE-SERVICES", "KUBE-FW-", "-j MASQUERADE --random-fully"} {
			if !strings.Contains(out, want) {
				t.Errorf("got ruleset without %q:\n%s", want, out)
			}
		}
		if strings.Contains(out, "ns3/affinity") {
			t.Errorf("got ruleset still holding deleted service ns3/affinity:\n%s", out)
		}
		if n := strings.Count(out, "-m comment --comment svcnet -j KUBE-POSTROUTING"); n != 1 {
			t.Errorf("got %d POSTROUTING hooks after two full syncs, want 1", n)
		}
		if err := p2.Cleanup(ctx); err != nil {
			return fmt.Errorf("Cleanup: %w", err)
		}
		if out := save(); strings.Contains(out, "KUBE-") || strings.Contains(out, "svcnet") {
			t.Errorf("got rules left after Cleanup:\n%s", out)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

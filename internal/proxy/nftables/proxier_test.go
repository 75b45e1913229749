package nftables

import (
	"context"
	"flag"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "k8s.io/api/core/v1"
	"sigs.k8s.io/knftables"

	"github.com/svcnet/svcnet/internal/proxy"
	pt "github.com/svcnet/svcnet/internal/proxy/proxytest"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

func testConfig() proxy.BackendConfig {
	return proxy.BackendConfig{
		NodeName:     pt.NodeName,
		ClusterCIDR:  pt.ClusterCIDR,
		ServiceCIDRs: []string{pt.ServiceCIDR},
		DropInvalid:  true,
	}
}

func newFakeProxier(t *testing.T, cfg proxy.BackendConfig) (*Proxier, *knftables.Fake) {
	t.Helper()
	fake := knftables.NewFake(knftables.InetFamily, tableName)
	p, err := New(Config{BackendConfig: cfg, NFT: fake})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return p, fake
}

func syncState(t *testing.T, p *Proxier, st *proxy.State) {
	t.Helper()
	if err := p.Sync(context.Background(), st); err != nil {
		t.Fatalf("Sync: %v", err)
	}
}

func TestGolden(t *testing.T) {
	small := pt.Scenario{
		Services: []*v1.Service{pt.Service("ns", "np", "10.96.0.20", []int32{80}, func(s *v1.Service) {
			s.Spec.Type = v1.ServiceTypeNodePort
			s.Spec.Ports[0].NodePort = 30080
			s.Spec.SessionAffinity = v1.ServiceAffinityClientIP
		})},
		Slices: pt.Flows().Slices[:1],
	}
	small.Slices = append(small.Slices, pt.Slice("ns", "np", "np-1", []pt.SlicePort{{Name: "p80", Port: 8080}},
		pt.EP{IP: "10.244.0.5", Node: pt.NodeName}, pt.EP{IP: "10.244.1.5", Node: "node-b"}))
	tests := []struct {
		name     string
		cfg      proxy.BackendConfig
		scenario pt.Scenario
	}{
		{name: "empty", cfg: testConfig()},
		{name: "flows", cfg: testConfig(), scenario: pt.Flows()},
		{name: "masquerade-all", cfg: proxy.BackendConfig{NodeName: pt.NodeName, MasqueradeAll: true,
			NodePortAddresses: []string{"192.168.0.0/24"}}, scenario: small},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, fake := newFakeProxier(t, tc.cfg)
			syncState(t, p, tc.scenario.State(proxy.ServiceOptions{}))
			pt.CheckGolden(t, tc.name, fake.Dump(), *update)
		})
	}
}

func TestPacketFlows(t *testing.T) {
	s := pt.Flows()
	p, fake := newFakeProxier(t, testConfig())
	syncState(t, p, s.State(proxy.ServiceOptions{}))
	s.Run(t, &tracer{fake: fake, nodeIPs: []string{pt.NodeIP}})
}

// TestPartialSync applies a series of changes with partial syncs and checks
// after each that (a) the transaction touched only the changed Service and
// (b) the table equals a fresh full sync of the same state.
func TestPartialSync(t *testing.T) {
	s := pt.Flows()
	tr := s.Tracker(proxy.ServiceOptions{})
	p, fake := newFakeProxier(t, testConfig())
	snap := tr.Snapshot(false)
	syncState(t, p, snap.State)
	tr.Synced(snap)

	web := s.Services[0].DeepCopy()
	webKeys := []string{"ns1/web", "10.96.0.10 ", "30099"}
	steps := []struct {
		name    string
		allowed []string // substrings one of which every written line carries
		change  func()
	}{
		{"endpoint removed", webKeys, func() {
			tr.SetEndpointSlice(pt.Slice("ns1", "web", "web-1", []pt.SlicePort{{Name: "p80", Port: 8080}}, pt.EP{IP: "10.244.1.5", Node: "node-b"}))
		}},
		{"affinity on", webKeys, func() {
			web.Spec.SessionAffinity = v1.ServiceAffinityClientIP
			tr.SetService(web.DeepCopy())
		}},
		{"affinity timeout changed", webKeys, func() {
			web.Spec.SessionAffinityConfig = &v1.SessionAffinityConfig{ClientIP: &v1.ClientIPConfig{TimeoutSeconds: ptr(int32(60))}}
			tr.SetService(web.DeepCopy())
		}},
		{"affinity off", webKeys, func() {
			web.Spec.SessionAffinity = v1.ServiceAffinityNone
			web.Spec.SessionAffinityConfig = nil
			tr.SetService(web.DeepCopy())
		}},
		{"all endpoints gone", webKeys, func() {
			tr.DeleteEndpointSlice(pt.Slice("ns1", "web", "web-1", nil))
		}},
		{"endpoints back", webKeys, func() {
			tr.SetEndpointSlice(s.Slices[0])
		}},
		{"endpoint added", webKeys, func() {
			tr.SetEndpointSlice(pt.Slice("ns1", "web", "web-1", []pt.SlicePort{{Name: "p80", Port: 8080}},
				pt.EP{IP: "10.244.0.5", Node: pt.NodeName}, pt.EP{IP: "10.244.1.5", Node: "node-b"}, pt.EP{IP: "10.244.1.15", Node: "node-b"}))
		}},
		{"endpoints restored", webKeys, func() {
			tr.SetEndpointSlice(s.Slices[0])
		}},
		{"node port added", webKeys, func() {
			web.Spec.Type = v1.ServiceTypeNodePort
			web.Spec.Ports[0].NodePort = 30099
			tr.SetService(web.DeepCopy())
		}},
		{"service deleted", webKeys, func() { tr.DeleteService("ns1", "web") }},
		{"service added", []string{"ns9/new", "10.96.9.9"}, func() {
			tr.SetService(pt.Service("ns9", "new", "10.96.9.9", []int32{80}))
			tr.SetEndpointSlice(pt.Slice("ns9", "new", "new-1", []pt.SlicePort{{Name: "p80", Port: 8080}}, pt.EP{IP: "10.244.9.9"}))
		}},
	}
	for _, step := range steps {
		t.Run(step.name, func(t *testing.T) {
			step.change()
			snap := tr.Snapshot(false)
			if snap.State.Full {
				t.Fatalf("got full sync, want partial")
			}
			syncState(t, p, snap.State)
			tr.Synced(snap)
			fake.RLock()
			txt := fake.LastTransaction.String()
			fake.RUnlock()
			// hairpin-endpoints is shared by all Services; the comparison
			// with a full sync below checks its elements (10.244.1.5 is
			// also an endpoint of ns2/np, so it must outlive ns1/web).
			// Deleted dnat-targets elements are named by key alone; the
			// comparison checks that none is left unused.
			// A Service may also be the first user of a dnat-targets map.
			allowed := append(slices.Clip(step.allowed), hairpinSet, "delete element inet svcnet "+dnatMapPrefix, "add map inet svcnet "+dnatMapPrefix)
			for _, line := range strings.Split(strings.TrimSpace(txt), "\n") {
				if !slices.ContainsFunc(allowed, func(s string) bool { return strings.Contains(line, s) }) {
					t.Errorf("partial sync touched an unrelated object: %s", line)
				}
			}
			fresh, freshFake := newFakeProxier(t, testConfig())
			st := tr.Snapshot(true).State
			syncState(t, fresh, st)
			if diff := cmp.Diff(canonical(t, freshFake.Dump()), canonical(t, fake.Dump())); diff != "" {
				t.Errorf("partial result differs from a full sync (-full +partial):\n%s", diff)
			}
		})
	}
}

func TestNoChangeWritesNothing(t *testing.T) {
	s := pt.Flows()
	p, fake := newFakeProxier(t, testConfig())
	st := s.State(proxy.ServiceOptions{})
	syncState(t, p, st)
	fake.Lock()
	fake.LastTransaction = nil
	fake.Unlock()
	st.Full = false
	syncState(t, p, st)
	fake.RLock()
	defer fake.RUnlock()
	if fake.LastTransaction != nil {
		t.Errorf("got transaction %q for an unchanged state, want none", fake.LastTransaction.String())
	}
}

func TestFullSyncDeletesLeftovers(t *testing.T) {
	p, fake := newFakeProxier(t, testConfig())
	tx := fake.NewTransaction()
	tx.Add(&knftables.Table{})
	tx.Add(&knftables.Chain{Name: "service-AAAAAAAA-old/gone/tcp/p80"})
	tx.Add(&knftables.Chain{Name: "endpoint-BBBBBBBB-old/gone/tcp/p80__10.1.1.1/80"})
	tx.Add(&knftables.Rule{Chain: "service-AAAAAAAA-old/gone/tcp/p80", Rule: "goto endpoint-BBBBBBBB-old/gone/tcp/p80__10.1.1.1/80"})
	tx.Add(&knftables.Set{Name: "affinity-CCCCCCCC-old/gone/tcp/p80__10.1.1.1/80", Type: "ipv4_addr"})
	if err := fake.Run(context.Background(), tx); err != nil {
		t.Fatal(err)
	}
	syncState(t, p, pt.Flows().State(proxy.ServiceOptions{}))
	dump := fake.Dump()
	for _, stale := range []string{"old/gone"} {
		if strings.Contains(dump, stale) {
			t.Errorf("got leftover %q after full sync", stale)
		}
	}
}

func TestRefuseExternalIPs(t *testing.T) {
	p, fake := newFakeProxier(t, testConfig())
	syncState(t, p, pt.Flows().State(proxy.ServiceOptions{RefuseExternalIPs: true}))
	tr := &tracer{fake: fake, nodeIPs: []string{pt.NodeIP}}
	got := pt.Combine(t, tr.Trace(t, pt.Packet{SrcIP: pt.OffCluster, DstIP: "198.51.100.10", DstPort: 80, Protocol: v1.ProtocolTCP}))
	if got.Verdict != pt.Forward {
		t.Errorf("got %+v for a refused external IP, want it forwarded untouched", got)
	}
}

// canonical returns the sorted lines of a dump with the dnat-targets keys,
// which depend on the order of allocations, resolved: each "numgen ...
// offset O map @dnat-targets-x" rule lists the targets it picks from, and
// the maps' own lines go. It fails the test if an element is used by no
// rule, or a rule's key has no element or its map does not exist.
func canonical(t *testing.T, dump string) []string {
	t.Helper()
	elemRE := regexp.MustCompile(`^add element inet svcnet (` + dnatMapPrefix + `[\w-]+) \{ (\d+) comment "[^"]*" : (\S+ \. \d+) \}$`)
	ruleRE := regexp.MustCompile(`numgen random mod (\d+) offset (\d+) map @(` + dnatMapPrefix + `[\w-]+)`)
	type mapKey struct {
		m string
		k int
	}
	targets := map[mapKey]string{}
	maps := map[string]bool{}
	var lines []string
	for _, line := range strings.Split(strings.TrimSpace(dump), "\n") {
		if m := elemRE.FindStringSubmatch(line); m != nil {
			k, _ := strconv.Atoi(m[2])
			targets[mapKey{m[1], k}] = m[3]
			continue
		}
		if name, ok := strings.CutPrefix(line, "add map inet svcnet "); ok && strings.HasPrefix(name, dnatMapPrefix) {
			maps[strings.Fields(name)[0]] = true
			continue // partial syncs leave maps empty that a full sync would not make
		}
		lines = append(lines, line)
	}
	used := map[mapKey]bool{}
	for i, line := range lines {
		lines[i] = ruleRE.ReplaceAllStringFunc(line, func(expr string) string {
			m := ruleRE.FindStringSubmatch(expr)
			if !maps[m[3]] {
				t.Errorf("rule %q uses a map that does not exist", line)
			}
			n, _ := strconv.Atoi(m[1])
			off, _ := strconv.Atoi(m[2])
			var list []string
			for k := off; k < off+n; k++ {
				key := mapKey{m[3], k}
				tgt, ok := targets[key]
				if !ok {
					t.Errorf("rule %q: no element %d in %s", line, k, m[3])
				}
				used[key] = true
				list = append(list, tgt)
			}
			return fmt.Sprintf("numgen random mod %d map { %s }", n, strings.Join(list, " , "))
		})
	}
	for key, tgt := range targets {
		if !used[key] {
			t.Errorf("element %d : %s of %s is used by no rule", key.k, tgt, key.m)
		}
	}
	slices.Sort(lines)
	return lines
}

func ptr[T any](v T) *T { return &v }

// TestSplitTransactions checks that syncs split into several transactions
// (as large ones are) leave the same table as one transaction would.
func TestSplitTransactions(t *testing.T) {
	s := pt.Flows()
	tr := s.Tracker(proxy.ServiceOptions{})
	p, fake := newFakeProxier(t, testConfig())
	p.splitAbove, p.chunk = 0, 1
	rec := &recordingNFT{Interface: p.nft}
	p.nft = rec
	snap := tr.Snapshot(true)
	syncState(t, p, snap.State)
	tr.Synced(snap)
	// Service chains are all written before any chain that may jump to
	// them, so no intermediate state jumps to an empty service chain.
	lastService, firstExternal := -1, -1
	for i, tx := range rec.txs {
		if strings.Contains(tx, "add rule inet svcnet "+servicePrefix) {
			lastService = i
		}
		if firstExternal < 0 && strings.Contains(tx, "add rule inet svcnet "+externalPrefix) {
			firstExternal = i
		}
	}
	if lastService < 0 || firstExternal < 0 || firstExternal <= lastService {
		t.Errorf("got service chains written last in transaction %d and external chains first in %d, want all service chains first",
			lastService, firstExternal)
	}
	fake.RLock()
	last := fake.LastTransaction.String()
	fake.RUnlock()
	if strings.Contains(last, "numgen") || !strings.Contains(last, "add element inet svcnet service-ips") {
		t.Errorf("got last transaction of a split full sync:\n%s\nwant the map elements without the service chains", last)
	}
	// The dnat-targets elements exist before the rules picking them.
	if !strings.Contains(rec.txs[0], "add element inet svcnet "+dnatMapPrefix) || strings.Contains(last, "add element inet svcnet "+dnatMapPrefix) {
		t.Errorf("got dnat-targets elements outside the first transaction of a split sync:\n%s", strings.Join(rec.txs, "\n---\n"))
	}
	compare := func(t *testing.T) {
		t.Helper()
		one, oneFake := newFakeProxier(t, testConfig())
		syncState(t, one, tr.Snapshot(true).State)
		if diff := cmp.Diff(canonical(t, oneFake.Dump()), canonical(t, fake.Dump())); diff != "" {
			t.Errorf("split sync differs from one transaction (-one +split):\n%s", diff)
		}
	}
	compare(t)

	// A partial sync of several Services: one deleted, one with new
	// endpoints, one new.
	tr.DeleteService("ns3", "affinity")
	tr.SetEndpointSlice(pt.Slice("ns1", "web", "web-1", []pt.SlicePort{{Name: "p80", Port: 8080}},
		pt.EP{IP: "10.244.1.5", Node: "node-b"}, pt.EP{IP: "10.244.1.15", Node: "node-b"}))
	tr.SetService(pt.Service("ns9", "new", "10.96.9.9", []int32{80}))
	tr.SetEndpointSlice(pt.Slice("ns9", "new", "new-1", []pt.SlicePort{{Name: "p80", Port: 8080}}, pt.EP{IP: "10.244.9.9"}))
	snap = tr.Snapshot(false)
	rec.txs = nil
	syncState(t, p, snap.State)
	tr.Synced(snap)
	compare(t)
	// A new endpoint's hairpin pair is in place before any chain DNATs to
	// it, so a pod reaching itself is masqueraded from the first packet.
	if len(rec.txs) < 3 || !strings.Contains(rec.txs[0], "add element inet svcnet hairpin-endpoints { 10.244.9.9 . 10.244.9.9 }") {
		t.Errorf("got a split partial sync whose first transaction does not add the new hairpin pair:\n%s", strings.Join(rec.txs, "\n---\n"))
	}
}

// TestInterruptedFullSync checks that a split full sync that fails midway,
// leaving chains on a half-written generation of dnat-targets maps, is
// repaired by the next full sync (of the same proxier, or of a restarted
// one) without emptying any map a live rule may still use.
func TestInterruptedFullSync(t *testing.T) {
	s := pt.Flows()
	for _, restart := range []bool{false, true} {
		t.Run(fmt.Sprintf("restart=%v", restart), func(t *testing.T) {
			p, fake := newFakeProxier(t, testConfig())
			p.splitAbove, p.chunk = 0, 1
			syncState(t, p, s.State(proxy.ServiceOptions{}))
			failing := &recordingNFT{Interface: fake, failAt: 3}
			p.nft = failing
			if err := p.Sync(context.Background(), s.State(proxy.ServiceOptions{})); err == nil {
				t.Fatalf("got no error from a sync whose third transaction failed")
			}
			if restart {
				p, _ = newFakeProxier(t, testConfig())
				p.nft = fake
				p.splitAbove, p.chunk = 0, 1
			}
			rec := &recordingNFT{Interface: fake}
			p.nft = rec
			syncState(t, p, s.State(proxy.ServiceOptions{}))
			for _, tx := range rec.txs {
				if strings.Contains(tx, "flush map inet svcnet "+dnatMapPrefix) {
					t.Errorf("got a dnat-targets map flushed:\n%s", tx)
				}
			}
			fresh, freshFake := newFakeProxier(t, testConfig())
			syncState(t, fresh, s.State(proxy.ServiceOptions{}))
			if diff := cmp.Diff(canonical(t, freshFake.Dump()), canonical(t, fake.Dump())); diff != "" {
				t.Errorf("repaired table differs from a fresh one (-fresh +repaired):\n%s", diff)
			}
			if dump := fake.Dump(); !strings.Contains(dump, dnatMapPrefix+"3-") || strings.Contains(dump, dnatMapPrefix+"1-") ||
				strings.Contains(dump, dnatMapPrefix+"2-") {
				t.Errorf("got dnat-targets generations other than 3 after the repair")
			}
		})
	}
}

// recordingNFT keeps the text of every transaction it runs; with failAt
// set, that transaction (counting from 1) fails without being applied.
type recordingNFT struct {
	knftables.Interface
	txs    []string
	failAt int
}

func (r *recordingNFT) Run(ctx context.Context, tx *knftables.Transaction) error {
	r.txs = append(r.txs, tx.String())
	if len(r.txs) == r.failAt {
		return fmt.Errorf("injected failure of transaction %d", r.failAt)
	}
	return r.Interface.Run(ctx, tx)
}

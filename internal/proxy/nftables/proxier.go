package nftables

import (
	"context"

	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/knftables"

	"github.com/svcnet/svcnet/internal/proxy"
)

// Config configures a Proxier.
type Config struct {
	proxy.BackendConfig
	// NFT is the nftables interface for table inet svcnet; nil means the
	// real one (which needs the nft binary and CAP_NET_ADMIN).
	NFT knftables.Interface
}

// Proxier is the nftables proxy.Backend.
type Proxier struct {
	cfg Config
	nft knftables.Interface
	log *slog.Logger
	// splitAbove and chunk are the splitAbove and defaultChunk constants
	// (tests lower them).
	splitAbove, chunk int

	// committed holds what the last successful transactions wrote, per
	// Service; it is nil until the first full sync succeeds.
	committed map[types.NamespacedName]*svcObjects
	// hairpinRefs counts, per endpoint IP, the committed Services that may
	// DNAT to it; an IP is in the hairpin-endpoints set while its count is
	// positive, since many Services often share the same pods.
	hairpinRefs map[string]int
	// dnat is the dnat-targets generation the committed chains use; a
	// full sync moves to the other one.
	dnat *dnatGen
}

var _ proxy.Backend = (*Proxier)(nil)

// Name is the table name the proxier owns.
const Name = tableName

// New returns a Proxier.
func New(cfg Config) (*Proxier, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	nft := cfg.NFT
	if nft == nil {
		var err error
		nft, err = knftables.New(knftables.InetFamily, tableName)
		if err != nil {
			return nil, fmt.Errorf("nftables: %w", err)
		}
	}
	return &Proxier{cfg: cfg, nft: nft, log: cfg.Logger, splitAbove: splitAbove, chunk: defaultChunk}, nil
}

// Factory builds a real Proxier; it is the proxy.BackendFactory for mode "nftables".
func Factory(cfg proxy.BackendConfig) (proxy.Backend, error) {
	return New(Config{BackendConfig: cfg})
}

// txPhases orders operations so that nothing is deleted while still
// referenced and nothing is referenced before it exists.
type txPhases struct {
	create    []knftables.Object             // sets, maps and chains to add
	prepElems []*knftables.Element           // dnat-targets elements: written before any rule uses them
	rewriteEP []func(*knftables.Transaction) // endpoint chains
	rewriteSv []func(*knftables.Transaction) // service chains (they jump to endpoint chains only)
	rewrite   []func(*knftables.Transaction) // external, firewall and other chains (they may jump to service chains)
	delElems  []*knftables.Element
	addElems  []*knftables.Element
	flush     []string // stale chains to flush before deletion
	delete    []knftables.Object
}

func (ph *txPhases) apply(tx *knftables.Transaction) {
	ph.applyPrepare(tx)
	for _, f := range ph.chainRewrites() {
		f(tx)
	}
	ph.applyCommit(tx)
}

// chainRewrites lists the rewrites of service chains, then of the chains
// that may jump to them, so that a split sync never writes a jump to a
// service chain that is still empty.
func (ph *txPhases) chainRewrites() []func(*knftables.Transaction) {
	return append(slices.Clip(ph.rewriteSv), ph.rewrite...)
}

// applyPrepare creates the new chains, sets and maps, adds the elements
// that must exist before a rule uses them (dnat-targets keys, hairpin
// pairs) and writes the endpoint chains.
func (ph *txPhases) applyPrepare(tx *knftables.Transaction) {
	for _, o := range ph.create {
		tx.Add(o)
	}
	for _, e := range ph.prepElems {
		tx.Add(e)
	}
	for _, f := range ph.rewriteEP {
		f(tx)
	}
}

// applyCommit changes the map and set elements and deletes what is stale.
func (ph *txPhases) applyCommit(tx *knftables.Transaction) {
	for _, e := range ph.delElems {
		tx.Delete(e)
	}
	for _, e := range ph.addElems {
		tx.Add(e)
	}
	for _, c := range ph.flush {
		tx.Flush(&knftables.Chain{Name: c})
	}
	for _, o := range ph.delete {
		tx.Delete(o)
	}
}

// Sync implements proxy.Backend.
func (p *Proxier) Sync(ctx context.Context, state *proxy.State) error {
	full := state.Full || p.committed == nil
	ph := &txPhases{}
	next := map[types.NamespacedName]*svcObjects{}
	b := &builder{p: p, node: state.Node, gen: p.dnat, used: map[string]string{}}
	var existing map[string][]string
	var scope []types.NamespacedName
	if full {
		var err error
		if existing, err = p.nft.ListAll(ctx); err != nil && !knftables.IsNotFound(err) {
			return fmt.Errorf("nftables: list table: %w", err)
		}
		ports := 0
		for _, svc := range state.Services {
			ports += len(svc.Ports)
		}
		b.gen = newDNATGen(nextDNATGen(existing["map"], p.dnat), ports)
		for name := range state.Services {
			scope = append(scope, name)
		}
	} else {
		for name, o := range p.committed {
			next[name] = o
		}
		for name := range state.Changed {
			scope = append(scope, name)
		}
	}
	sort.Slice(scope, func(i, j int) bool { return scope[i].String() < scope[j].String() })
	hairpinDelta := map[string]int{}
	var freed []slotBlock
	for _, name := range scope {
		var old *svcObjects
		if !full {
			old = p.committed[name]
		}
		desired, err := b.buildService(state.Services[name], old)
		if err != nil {
			p.committed = nil // the next sync is full and starts the keys afresh
			return fmt.Errorf("nftables: service %s: %w", name, err)
		}
		p.diff(ph, old, desired, full)
		countEndpointIPs(hairpinDelta, old, -1)
		countEndpointIPs(hairpinDelta, desired, 1)
		freed = append(freed, unusedBlocks(old, desired)...)
		if desired != nil {
			next[name] = desired
		} else {
			delete(next, name)
		}
	}
	hairpinRefs := p.hairpinRefs
	var hairpinPresent map[string]bool
	if full {
		// Counted afresh against what the kernel holds.
		hairpinRefs = nil
		var err error
		if hairpinPresent, err = p.listHairpin(ctx); err != nil {
			return err
		}
	}
	hairpinChanged := diffHairpin(ph, hairpinRefs, hairpinDelta, hairpinPresent)
	newMaps := b.gen.createMaps(ph, b.used)
	if full {
		p.deleteLeftovers(ph, existing, next, b.used)
	}
	var txs []*knftables.Transaction
	if len(ph.rewriteSv)+len(ph.rewrite) > p.splitAbove {
		txs = p.splitTransactions(ph, full)
	} else {
		tx := p.nft.NewTransaction()
		if full {
			p.writeBase(tx)
		}
		ph.apply(tx)
		txs = append(txs, tx)
	}
	for i, tx := range txs {
		if tx.NumOperations() == 0 {
			continue
		}
		if err := p.nft.Run(ctx, tx); err != nil {
			p.committed = nil
			return fmt.Errorf("nftables: run transaction %d of %d (full=%v, services=%d): %w", i+1, len(txs), full, len(scope), err)
		}
	}
	if len(txs) > 1 {
		p.log.Debug("Synced nftables rules in several transactions", "transactions", len(txs), "full", full, "services", len(scope))
	}
	p.committed = next
	p.dnat = b.gen
	for _, m := range newMaps {
		p.dnat.created[m] = true
	}
	for _, blk := range freed {
		p.dnat.slots.release(blk)
	}
	if full || p.hairpinRefs == nil {
		p.hairpinRefs = map[string]int{}
	}
	for ip, n := range hairpinChanged {
		if n > 0 {
			p.hairpinRefs[ip] = n
		} else {
			delete(p.hairpinRefs, ip)
		}
	}
	return nil
}

// countEndpointIPs adds sign to the count of every endpoint IP of o.
func countEndpointIPs(counts map[string]int, o *svcObjects, sign int) {
	if o == nil {
		return
	}
	for ip := range o.endpointIPs {
		counts[ip] += sign
	}
}

// diffHairpin appends the hairpin-endpoints elements to add and delete when
// the per-IP Service counts refs change by delta, and returns the new
// counts of the IPs that changed (refs itself is not modified, so a failed
// sync leaves it as committed). A full sync passes the IPs the kernel's set
// holds (present): those are not added again, and those no Service uses
// are deleted. Additions are written before the chains that may DNAT to the
// new endpoints, deletions after the chains that no longer do.
func diffHairpin(ph *txPhases, refs, delta map[string]int, present map[string]bool) map[string]int {
	ips := make([]string, 0, len(delta))
	for ip, d := range delta {
		if d != 0 {
			ips = append(ips, ip)
		}
	}
	sort.Strings(ips)
	changed := make(map[string]int, len(ips))
	pair := func(ip string) *knftables.Element { return &knftables.Element{Set: hairpinSet, Key: []string{ip, ip}} }
	for _, ip := range ips {
		before := refs[ip]
		after := before + delta[ip]
		switch {
		case before == 0 && after > 0 && !present[ip]:
			ph.prepElems = append(ph.prepElems, pair(ip))
		case before > 0 && after <= 0:
			ph.delElems = append(ph.delElems, pair(ip))
		}
		changed[ip] = after
	}
	for _, ip := range sortedKeys(present) {
		if changed[ip] <= 0 {
			ph.delElems = append(ph.delElems, pair(ip))
		}
	}
	return changed
}

// listHairpin returns the endpoint IPs in the kernel's hairpin-endpoints
// set.
func (p *Proxier) listHairpin(ctx context.Context) (map[string]bool, error) {
	elems, err := p.nft.ListElements(ctx, "set", hairpinSet)
	if err != nil && !knftables.IsNotFound(err) {
		return nil, fmt.Errorf("nftables: list %s: %w", hairpinSet, err)
	}
	present := map[string]bool{}
	for _, e := range elems {
		if len(e.Key) == 2 && e.Key[0] == e.Key[1] {
			present[e.Key[0]] = true
		}
	}
	return present, nil
}

// Syncs rewriting more than splitAbove service, external and firewall
// chains are split (splitTransactions), into transactions of at most
// defaultChunk of them. Each transaction costs nft a listing of every chain
// of the table, so chunks are large; measurements are in
// docs/design/nftables-scaling.md.
const (
	splitAbove   = 500
	defaultChunk = 2500
)

// splitTransactions splits a sync into transactions so that none binds
// many anonymous sets: the kernel binds each anonymous set (the numgen vmap
// of an affinity Service's chain, the source ranges of a firewall chain) by
// walking every operation queued before it in the same transaction, which
// made one big transaction quadratic in the number of Services
// (docs/design/nftables-scaling.md). The first transaction creates every
// new chain, set and map (and, for a full sync, the table and the static
// chains), adds the dnat-targets keys and hairpin pairs and writes the
// endpoint chains; then the service, external and firewall chains are
// written p.chunk at a time, each live as soon as its transaction commits
// (its targets already exist); the last transaction writes the static
// objects (full sync) and the other map elements, which is what makes new
// chains carry traffic, and deletes stale objects. Endpoint chains are
// final before any chain jumping to them is written, and nothing is
// deleted before the last transaction, so every jump or map key in the
// states in between reaches an existing chain or element holding its old
// or its new targets.
func (p *Proxier) splitTransactions(ph *txPhases, full bool) []*knftables.Transaction {
	prepare := p.nft.NewTransaction()
	if full {
		prepare.Add(&knftables.Table{Comment: knftables.PtrTo(tableComment)})
		for _, name := range staticChains {
			prepare.Add(&knftables.Chain{Name: name})
		}
		// The kernel finds a set by walking the table's sets in creation
		// order; creating the static ones before the anonymous sets of the
		// service chains keeps the many element additions to them cheap.
		maps, sets := p.staticMapsAndSets()
		for _, m := range maps {
			prepare.Add(m)
		}
		for _, s := range sets {
			prepare.Add(s)
		}
	}
	ph.applyPrepare(prepare)
	txs := []*knftables.Transaction{prepare}
	rewrites := ph.chainRewrites()
	for start := 0; start < len(rewrites); start += p.chunk {
		tx := p.nft.NewTransaction()
		for _, f := range rewrites[start:min(start+p.chunk, len(rewrites))] {
			f(tx)
		}
		txs = append(txs, tx)
	}
	commit := p.nft.NewTransaction()
	if full {
		p.writeBase(commit)
	}
	ph.applyCommit(commit)
	return append(txs, commit)
}

// diff appends the operations turning old into desired (either may be
// nil). With full, chains are always rewritten and elements re-added (the
// maps were flushed).
func (p *Proxier) diff(ph *txPhases, old, desired *svcObjects, full bool) {
	if old == nil {
		old = newSvcObjects()
	}
	if desired == nil {
		desired = newSvcObjects()
	}
	for _, set := range sortedKeys(desired.sets) {
		if _, ok := old.sets[set]; ok && !full {
			continue
		}
		ph.create = append(ph.create, &knftables.Set{
			Name: set, Type: "ipv4_addr",
			Flags:   []knftables.SetFlag{knftables.DynamicFlag, knftables.TimeoutFlag},
			Timeout: knftables.PtrTo(time.Duration(desired.sets[set]) * time.Second),
		})
	}
	for _, chain := range sortedKeys(desired.chains) {
		rules := desired.chains[chain]
		oldRules, existed := old.chains[chain]
		if existed && !full && slices.Equal(oldRules, rules) {
			continue
		}
		if !existed || full {
			ph.create = append(ph.create, &knftables.Chain{Name: chain})
		}
		rewrite := func(tx *knftables.Transaction) {
			tx.Flush(&knftables.Chain{Name: chain})
			for _, r := range rules {
				tx.Add(&knftables.Rule{Chain: chain, Rule: r})
			}
		}
		switch {
		case strings.HasPrefix(chain, endpointPrefix):
			ph.rewriteEP = append(ph.rewriteEP, rewrite)
		case strings.HasPrefix(chain, servicePrefix):
			ph.rewriteSv = append(ph.rewriteSv, rewrite)
		default:
			ph.rewrite = append(ph.rewrite, rewrite)
		}
	}
	for _, k := range sortedElemKeys(old.elems) {
		ov := old.elems[k]
		if nv, ok := desired.elems[k]; ok && !full && slices.Equal(nv.value, ov.value) {
			continue
		}
		if !full {
			ph.delElems = append(ph.delElems, element(k, ov))
		}
	}
	for _, k := range sortedElemKeys(desired.elems) {
		nv := desired.elems[k]
		if ov, ok := old.elems[k]; ok && !full && slices.Equal(nv.value, ov.value) {
			continue
		}
		if strings.HasPrefix(k.container, dnatMapPrefix) {
			ph.prepElems = append(ph.prepElems, element(k, nv))
			continue
		}
		ph.addElems = append(ph.addElems, element(k, nv))
	}
	if full {
		return // leftovers are found by listing the table
	}
	for _, chain := range sortedKeys(old.chains) {
		if _, ok := desired.chains[chain]; !ok {
			ph.flush = append(ph.flush, chain)
			ph.delete = append(ph.delete, &knftables.Chain{Name: chain})
		}
	}
	for _, set := range sortedKeys(old.sets) {
		if _, ok := desired.sets[set]; !ok {
			ph.delete = append(ph.delete, &knftables.Set{Name: set})
		}
	}
}

// deleteLeftovers deletes per-service chains and sets present in the table
// but wanted by no Service (from an earlier run or lost state), and the
// dnat-targets maps not in use (the other generation). Maps go last: stale
// chains that still use them are flushed first.
func (p *Proxier) deleteLeftovers(ph *txPhases, existing map[string][]string, next map[types.NamespacedName]*svcObjects, usedMaps map[string]string) {
	wantChains, wantSets := map[string]bool{}, map[string]bool{}
	for _, o := range next {
		for c := range o.chains {
			wantChains[c] = true
		}
		for s := range o.sets {
			wantSets[s] = true
		}
	}
	for _, c := range slices.Sorted(slices.Values(existing["chain"])) {
		if isServiceObject(c) && !wantChains[c] {
			ph.flush = append(ph.flush, c)
			ph.delete = append(ph.delete, &knftables.Chain{Name: c})
		}
	}
	for _, s := range slices.Sorted(slices.Values(existing["set"])) {
		if strings.HasPrefix(s, affinityPrefix) && !wantSets[s] {
			ph.delete = append(ph.delete, &knftables.Set{Name: s})
		}
	}
	for _, m := range slices.Sorted(slices.Values(existing["map"])) {
		if _, used := usedMaps[m]; strings.HasPrefix(m, dnatMapPrefix) && !used {
			ph.delete = append(ph.delete, &knftables.Map{Name: m})
		}
	}
}

// unusedBlocks lists the dnat-targets key blocks of old that desired no
// longer uses.
func unusedBlocks(old, desired *svcObjects) []slotBlock {
	if old == nil {
		return nil
	}
	var unused []slotBlock
	for _, chain := range sortedKeys(old.blocks) {
		blk := old.blocks[chain]
		if desired == nil || desired.blocks[chain].slots != blk.slots {
			unused = append(unused, blk.slots)
		}
	}
	return unused
}

func element(k elemKey, v elemVal) *knftables.Element {
	e := &knftables.Element{Key: v.key, Value: v.value}
	if v.comment != "" {
		e.Comment = knftables.PtrTo(v.comment)
	}
	if k.isMap {
		e.Map = k.container
	} else {
		e.Set = k.container
	}
	return e
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func sortedElemKeys(m map[elemKey]elemVal) []elemKey {
	keys := make([]elemKey, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].container != keys[j].container {
			return keys[i].container < keys[j].container
		}
		return keys[i].key < keys[j].key
	})
	return keys
}

package iptables

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/types"

	"github.com/svcnet/svcnet/internal/proxy"
)

// Config configures a Proxier.
type Config struct {
	proxy.BackendConfig
	// Runner programs iptables; nil means the real binaries (which need
	// CAP_NET_ADMIN).
	Runner Runner
}

// Proxier is the iptables proxy.Backend.
type Proxier struct {
	cfg    Config
	runner Runner
	log    *slog.Logger

	// committed holds the per-Service rules of the last successful sync;
	// nil until a full sync succeeds and after any error.
	committed map[types.NamespacedName]*svcRules
}

var _ proxy.Backend = (*Proxier)(nil)

// New returns a Proxier. Without cfg.Runner it looks up the iptables,
// iptables-restore and iptables-save binaries and fails when one is missing.
func New(cfg Config) (*Proxier, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	r := cfg.Runner
	if r == nil {
		er, err := newExecRunner()
		if err != nil {
			return nil, err
		}
		r = er
	}
	p := &Proxier{cfg: cfg, runner: r, log: cfg.Logger}
	p.log.Info("Started iptables proxy with reduced semantics compared to nftables",
		"linearRules", "rule evaluation is linear in the number of Services",
		"newConnectionsOnly", "wrong-port rejects, unallocated-IP drops and loadBalancerSourceRanges apply to new connections only",
		"unsupported", "IPv6")
	return p, nil
}

// Factory builds a real Proxier; it is the proxy.BackendFactory for mode "iptables".
func Factory(cfg proxy.BackendConfig) (proxy.Backend, error) {
	return New(Config{BackendConfig: cfg})
}

// Sync implements proxy.Backend.
func (p *Proxier) Sync(ctx context.Context, state *proxy.State) error {
	full := state.Full || p.committed == nil
	if !full && len(state.Changed) == 0 {
		return nil // the kernel already holds exactly this state
	}
	next := make(map[types.NamespacedName]*svcRules, len(state.Services))
	if full {
		for name, svc := range state.Services {
			next[name] = p.buildService(svc, state.Node)
		}
	} else {
		for name, r := range p.committed {
			next[name] = r
		}
		for name := range state.Changed {
			if r := p.buildService(state.Services[name], state.Node); r != nil {
				next[name] = r
			} else {
				delete(next, name)
			}
		}
	}
	var leftovers []string
	if full {
		var err error
		if leftovers, err = p.leftoverChains(ctx, next); err != nil {
			p.committed = nil
			return err
		}
	}
	data := p.render(next, p.committed, full, leftovers)
	if err := p.runner.Restore(ctx, data); err != nil {
		p.committed = nil
		return fmt.Errorf("iptables: restore (full=%v): %w", full, err)
	}
	if full {
		if err := p.ensureHooks(ctx); err != nil {
			p.committed = nil
			return err
		}
	}
	p.committed = next
	return nil
}

func sortedNames(m map[types.NamespacedName]*svcRules) []types.NamespacedName {
	names := make([]types.NamespacedName, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool { return names[i].String() < names[j].String() })
	return names
}

func allChains(m map[types.NamespacedName]*svcRules) map[string][]string {
	out := map[string][]string{}
	for _, r := range m {
		for c, rules := range r.chains {
			out[c] = rules
		}
	}
	return out
}

// render writes the iptables-restore input turning old (the committed
// rules; ignored when full) into next. Top-level chains are always
// rewritten; per-service nat chains only when new or changed (or full);
// chains no longer wanted, and leftovers, are flushed and deleted.
func (p *Proxier) render(next, old map[types.NamespacedName]*svcRules, full bool, leftovers []string) []byte {
	var ordered []*svcRules
	for _, n := range sortedNames(next) {
		ordered = append(ordered, next[n])
	}
	natStatic, filterStatic := p.staticRules(ordered)
	want := allChains(next)
	var have map[string][]string
	if !full {
		have = allChains(old)
	}
	var write, del []string
	for c, rules := range want {
		if prev, ok := have[c]; full || !ok || !slices.Equal(prev, rules) {
			write = append(write, c)
		}
	}
	for c := range have {
		if _, ok := want[c]; !ok {
			del = append(del, c)
		}
	}
	del = append(del, leftovers...)
	sort.Strings(write)
	sort.Strings(del)

	var b bytes.Buffer
	b.WriteString("*filter\n")
	for _, c := range filterStaticChains {
		fmt.Fprintf(&b, ":%s - [0:0]\n", c)
	}
	for _, c := range filterStaticChains {
		for _, r := range filterStatic[c] {
			fmt.Fprintf(&b, "-A %s %s\n", c, r)
		}
	}
	b.WriteString("COMMIT\n*nat\n")
	for _, c := range natStaticChains {
		fmt.Fprintf(&b, ":%s - [0:0]\n", c)
	}
	for _, c := range write {
		fmt.Fprintf(&b, ":%s - [0:0]\n", c)
	}
	for _, c := range del {
		fmt.Fprintf(&b, ":%s - [0:0]\n", c)
	}
	for _, c := range natStaticChains {
		for _, r := range natStatic[c] {
			fmt.Fprintf(&b, "-A %s %s\n", c, r)
		}
	}
	for _, c := range write {
		for _, r := range want[c] {
			fmt.Fprintf(&b, "-A %s %s\n", c, r)
		}
	}
	for _, c := range del {
		fmt.Fprintf(&b, "-X %s\n", c)
	}
	b.WriteString("COMMIT\n")
	return b.Bytes()
}

// leftoverChains lists per-service nat chains in the kernel that next does
// not want (from an earlier run or lost state).
func (p *Proxier) leftoverChains(ctx context.Context, next map[types.NamespacedName]*svcRules) ([]string, error) {
	out, err := p.runner.Save(ctx, tableNAT)
	if err != nil {
		return nil, fmt.Errorf("iptables: save nat table: %w", err)
	}
	want := allChains(next)
	var left []string
	for _, c := range savedChains(out) {
		if _, ok := want[c]; !ok && isServiceChain(c) {
			left = append(left, c)
		}
	}
	return left, nil
}

// savedChains returns the chain names declared in iptables-save output.
func savedChains(out []byte) []string {
	var chains []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, ":") {
			if f := strings.Fields(line[1:]); len(f) > 0 {
				chains = append(chains, f[0])
			}
		}
	}
	return chains
}

// ensureHooks puts the jump rules at the top of the built-in chains.
func (p *Proxier) ensureHooks(ctx context.Context) error {
	pos := map[string]int{}
	for _, h := range hooks {
		key := h.table + "/" + h.chain
		pos[key]++
		if err := p.runner.EnsureRule(ctx, h.table, h.chain, pos[key], h.ruleArgs()); err != nil {
			return fmt.Errorf("iptables: hook %s %s: %w", h.table, h.chain, err)
		}
	}
	return nil
}

// Cleanup removes the hook rules and every chain the proxier owns, e.g.
// when switching to another proxy mode. The Proxier must not sync again.
func (p *Proxier) Cleanup(ctx context.Context) error {
	p.committed = nil
	for _, h := range hooks {
		if err := p.runner.DeleteRule(ctx, h.table, h.chain, h.ruleArgs()); err != nil {
			return fmt.Errorf("iptables: unhook %s %s: %w", h.table, h.chain, err)
		}
	}
	var b bytes.Buffer
	for _, table := range []string{tableFilter, tableNAT} {
		out, err := p.runner.Save(ctx, table)
		if err != nil {
			return fmt.Errorf("iptables: save %s table: %w", table, err)
		}
		static := filterStaticChains
		if table == tableNAT {
			static = natStaticChains
		}
		var owned []string
		for _, c := range savedChains(out) {
			if slices.Contains(static, c) || isServiceChain(c) {
				owned = append(owned, c)
			}
		}
		fmt.Fprintf(&b, "*%s\n", table)
		for _, c := range owned {
			fmt.Fprintf(&b, ":%s - [0:0]\n", c)
		}
		for _, c := range owned {
			fmt.Fprintf(&b, "-X %s\n", c)
		}
		b.WriteString("COMMIT\n")
	}
	if err := p.runner.Restore(ctx, b.Bytes()); err != nil {
		return fmt.Errorf("iptables: delete chains: %w", err)
	}
	return nil
}

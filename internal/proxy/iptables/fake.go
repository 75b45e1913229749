package iptables

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// builtinChains are the built-in chains of the tables the proxier uses.
var builtinChains = map[string][]string{
	tableFilter: {"INPUT", "FORWARD", "OUTPUT"},
	tableNAT:    {"PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"},
}

// builtinTargets are the -j targets that are not chains.
var builtinTargets = []string{"ACCEPT", "DROP", "RETURN", "REJECT", "DNAT", "SNAT", "MASQUERADE", "MARK"}

// Fake is an in-memory Runner with iptables-restore --noflush semantics:
// declaring a chain creates or flushes it, rules may only be appended to
// existing chains, a chain may only be deleted when it exists and nothing
// jumps to it, and jumps must name existing chains. A failed restore
// changes nothing. Safe for concurrent use.
type Fake struct {
	mu sync.RWMutex
	// tables maps table -> chain -> rules (each "args" of "-A CHAIN args").
	tables map[string]map[string][]string
	// lastRestore is the input of the last successful Restore.
	lastRestore []byte
}

var _ Runner = (*Fake)(nil)

// NewFake returns a Fake holding empty filter and nat tables.
func NewFake() *Fake {
	f := &Fake{tables: map[string]map[string][]string{}}
	for t, chains := range builtinChains {
		f.tables[t] = map[string][]string{}
		for _, c := range chains {
			f.tables[t][c] = nil
		}
	}
	return f
}

// splitRule splits a rule into arguments, honouring double quotes.
func splitRule(s string) ([]string, error) {
	var args []string
	for i := 0; i < len(s); {
		switch {
		case s[i] == ' ' || s[i] == '\t':
			i++
		case s[i] == '"':
			q, err := strconv.QuotedPrefix(s[i:])
			if err != nil {
				return nil, fmt.Errorf("bad quoting in %q: %w", s, err)
			}
			a, _ := strconv.Unquote(q)
			args = append(args, a)
			i += len(q)
		default:
			j := strings.IndexAny(s[i:], " \t")
			if j < 0 {
				j = len(s) - i
			}
			args = append(args, s[i:i+j])
			i += j
		}
	}
	return args, nil
}

func jumpTarget(args []string) string {
	for i := 0; i+1 < len(args); i++ {
		if args[i] == "-j" || args[i] == "-g" {
			return args[i+1]
		}
	}
	return ""
}

func cloneTable(t map[string][]string) map[string][]string {
	out := make(map[string][]string, len(t))
	for c, r := range t {
		out[c] = slices.Clone(r)
	}
	return out
}

// Restore implements Runner.
func (f *Fake) Restore(_ context.Context, data []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	staged := map[string]map[string][]string{}
	var cur map[string][]string
	var curName string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<26)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		fail := func(format string, a ...any) error {
			return fmt.Errorf("fake iptables-restore: line %d %q: %s", n, line, fmt.Sprintf(format, a...))
		}
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "*"):
			curName = line[1:]
			t, ok := f.tables[curName]
			if !ok {
				return fail("unknown table")
			}
			cur = cloneTable(t)
		case cur == nil:
			return fail("outside a table")
		case line == "COMMIT":
			if err := checkJumps(cur); err != nil {
				return fail("%v", err)
			}
			staged[curName] = cur
			cur = nil
		case strings.HasPrefix(line, ":"):
			name := strings.Fields(line[1:])[0]
			if !slices.Contains(builtinChains[curName], name) {
				cur[name] = nil // create or flush
			}
		default:
			args, err := splitRule(line)
			if err != nil || len(args) < 2 {
				return fail("cannot parse")
			}
			chain := args[1]
			if _, ok := cur[chain]; !ok {
				return fail("no chain %s", chain)
			}
			switch args[0] {
			case "-A":
				cur[chain] = append(cur[chain], rule(args[2:]...))
			case "-X":
				if slices.Contains(builtinChains[curName], chain) {
					return fail("cannot delete built-in chain")
				}
				delete(cur, chain)
			default:
				return fail("unsupported command %s", args[0])
			}
		}
	}
	if cur != nil {
		return fmt.Errorf("fake iptables-restore: table %s without COMMIT", curName)
	}
	// iptables-restore commits table by table; the fake commits all or
	// nothing, which only matters for inputs the proxier never writes.
	maps.Copy(f.tables, staged)
	f.lastRestore = slices.Clone(data)
	return nil
}

func checkJumps(t map[string][]string) error {
	for c, rules := range t {
		for _, r := range rules {
			args, _ := splitRule(r)
			j := jumpTarget(args)
			if j == "" || slices.Contains(builtinTargets, j) {
				continue
			}
			if _, ok := t[j]; !ok {
				return fmt.Errorf("chain %s jumps to missing chain %s", c, j)
			}
		}
	}
	return nil
}

// Save implements Runner, listing chains in sorted order (built-in first).
func (f *Fake) Save(_ context.Context, table string) ([]byte, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	t, ok := f.tables[table]
	if !ok {
		return nil, fmt.Errorf("fake iptables-save: unknown table %s", table)
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "*%s\n", table)
	names := f.chainsLocked(table)
	for _, c := range names {
		pol := "-"
		if slices.Contains(builtinChains[table], c) {
			pol = "ACCEPT"
		}
		fmt.Fprintf(&b, ":%s %s [0:0]\n", c, pol)
	}
	for _, c := range names {
		for _, r := range t[c] {
			fmt.Fprintf(&b, "-A %s %s\n", c, r)
		}
	}
	b.WriteString("COMMIT\n")
	return b.Bytes(), nil
}

func (f *Fake) chainsLocked(table string) []string {
	var user []string
	for c := range f.tables[table] {
		if !slices.Contains(builtinChains[table], c) {
			user = append(user, c)
		}
	}
	sort.Strings(user)
	return append(slices.Clone(builtinChains[table]), user...)
}

// EnsureRule implements Runner.
func (f *Fake) EnsureRule(_ context.Context, table, chain string, pos int, args []string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := f.tables[table]
	rules, ok := t[chain]
	if !ok {
		return fmt.Errorf("fake iptables: no chain %s in %s", chain, table)
	}
	r := rule(args...)
	if slices.Contains(rules, r) {
		return nil
	}
	if j := jumpTarget(args); j != "" && !slices.Contains(builtinTargets, j) {
		if _, ok := t[j]; !ok {
			return fmt.Errorf("fake iptables: no chain %s", j)
		}
	}
	pos = min(max(pos, 1), len(rules)+1)
	t[chain] = slices.Insert(rules, pos-1, r)
	return nil
}

// DeleteRule implements Runner.
func (f *Fake) DeleteRule(_ context.Context, table, chain string, args []string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := f.tables[table]
	r := rule(args...)
	if i := slices.Index(t[chain], r); i >= 0 {
		t[chain] = slices.Delete(t[chain], i, i+1)
	}
	return nil
}

// Rules returns the rules of one chain (each the arguments after
// "-A CHAIN"), and whether the chain exists.
func (f *Fake) Rules(table, chain string) ([]string, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	r, ok := f.tables[table][chain]
	return slices.Clone(r), ok
}

// LastRestore returns the input of the last successful Restore.
func (f *Fake) LastRestore() []byte {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return slices.Clone(f.lastRestore)
}

// Dump returns iptables-save output of the filter and nat tables.
func (f *Fake) Dump() string {
	var b strings.Builder
	for _, t := range []string{tableFilter, tableNAT} {
		out, _ := f.Save(context.Background(), t)
		b.Write(out)
	}
	return b.String()
}

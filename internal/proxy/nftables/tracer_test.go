package nftables

import (
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"sigs.k8s.io/knftables"

	"github.com/svcnet/svcnet/internal/proxy/proxytest"
)

// tracer interprets the fake ruleset for one packet. It understands exactly
// the rule grammar this package writes; anything else fails the test.
type tracer struct {
	fake    *knftables.Fake
	nodeIPs []string
}

var _ proxytest.Tracer = (*tracer)(nil)

type pkt struct {
	src, dst string
	port     int
	proto    string
	mark     uint32
	dnat     string
	masq     bool
	pick     int
	choices  int
	// invalid: conntrack marks the packet INVALID; NAT chains skip it.
	invalid bool
}

func (tr *tracer) isLocal(ip string) bool {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	return a.IsLoopback() || slices.Contains(tr.nodeIPs, ip)
}

// Trace follows every load-balancing choice and returns one branch each.
func (tr *tracer) Trace(t *testing.T, p proxytest.Packet) []proxytest.Branch {
	t.Helper()
	return proxytest.EachChoice(func(pick int) (proxytest.Branch, int) { return tr.run(t, p, pick) })
}

func (tr *tracer) hookChains(hook knftables.BaseChainHook) []string {
	type hc struct {
		name string
		prio int
	}
	var list []hc
	for name, ch := range tr.fake.Table.Chains {
		if ch.Hook == nil || *ch.Hook != hook {
			continue
		}
		prio, _ := knftables.ParsePriority(knftables.InetFamily, string(*ch.Priority))
		list = append(list, hc{name, prio})
	}
	sort.Slice(list, func(i, j int) bool { return list[i].prio < list[j].prio })
	var names []string
	for _, c := range list {
		names = append(names, c.name)
	}
	return names
}

func (tr *tracer) run(t *testing.T, p proxytest.Packet, pick int) (proxytest.Branch, int) {
	t.Helper()
	k := &pkt{src: p.SrcIP, dst: p.DstIP, port: p.DstPort, proto: strings.ToLower(string(p.Protocol)), pick: pick, choices: 1,
		invalid: p.Invalid}
	tr.fake.RLock()
	defer tr.fake.RUnlock()
	verdict := func(v string) (proxytest.Branch, bool) {
		switch v {
		case "drop":
			return proxytest.Branch{Verdict: proxytest.Drop}, true
		case "reject":
			return proxytest.Branch{Verdict: proxytest.Reject}, true
		}
		return proxytest.Branch{}, false
	}
	runHook := func(hook knftables.BaseChainHook) (proxytest.Branch, bool) {
		for _, c := range tr.hookChains(hook) {
			if ch := tr.fake.Table.Chains[c]; k.invalid && ch.Type != nil && *ch.Type == knftables.NATType {
				continue
			}
			if b, stop := verdict(tr.runChain(t, c, k, 0)); stop {
				return b, true
			}
		}
		return proxytest.Branch{}, false
	}
	first := knftables.PreroutingHook
	if tr.isLocal(p.SrcIP) {
		first = knftables.OutputHook
	}
	if b, stop := runHook(first); stop {
		return b, k.choices
	}
	if tr.isLocal(k.dst) {
		if first == knftables.PreroutingHook {
			if b, stop := runHook(knftables.InputHook); stop {
				return b, k.choices
			}
		}
		return proxytest.Branch{Verdict: proxytest.Local}, k.choices
	}
	if first == knftables.PreroutingHook {
		if b, stop := runHook(knftables.ForwardHook); stop {
			return b, k.choices
		}
	}
	if b, stop := runHook(knftables.PostroutingHook); stop {
		return b, k.choices
	}
	if k.dnat == "" {
		return proxytest.Branch{Verdict: proxytest.Forward, Masquerade: k.masq}, k.choices
	}
	return proxytest.Branch{Verdict: proxytest.DNAT, Endpoint: k.dnat, Masquerade: k.masq}, k.choices
}

// runChain returns "accept", "drop", "reject" or "" (fell through / returned).
func (tr *tracer) runChain(t *testing.T, name string, k *pkt, depth int) string {
	t.Helper()
	if depth > 20 {
		t.Fatalf("chain recursion too deep at %q", name)
	}
	ch := tr.fake.Table.Chains[name]
	if ch == nil {
		t.Fatalf("no chain %q", name)
	}
	for _, r := range ch.Rules {
		v, matched := tr.runRule(t, r.Rule, k, depth)
		if matched && v != "continue" {
			return v
		}
	}
	return ""
}

// runRule returns (verdict, true) when the rule matched and ended with a
// verdict, ("continue", true) when it matched without one, and ("", false)
// when a match failed.
func (tr *tracer) runRule(t *testing.T, rule string, k *pkt, depth int) (string, bool) {
	t.Helper()
	tok := strings.Fields(rule)
	doVerdict := func(kind, target string) string {
		switch kind {
		case "jump":
			if v := tr.runChain(t, target, k, depth+1); v != "" {
				return v
			}
			return "continue"
		case "goto":
			return tr.runChain(t, target, k, depth+1)
		case "return":
			return ""
		case "accept", "drop":
			return kind
		}
		t.Fatalf("unknown verdict %q in %q", kind, rule)
		return ""
	}
	for i := 0; i < len(tok); {
		switch tok[i] {
		case "jump", "goto":
			return doVerdict(tok[i], tok[i+1]), true
		case "return", "accept", "drop":
			return doVerdict(tok[i], ""), true
		case "reject":
			return "reject", true
		case "masquerade":
			k.masq = true
			return "accept", true
		case "dnat": // dnat ip to A:P, or dnat ip to numgen random mod N offset O map @dnat-targets-x
			k.dnat = tok[i+3]
			if k.dnat == "numgen" {
				pick, n := tr.selector(t, tok[i+3:], k, rule)
				target := strings.Fields(strings.ReplaceAll(tr.vmap(t, tok[i+3+n+1:], []string{pick}, rule), " . ", " "))
				if len(target) != 2 {
					t.Fatalf("tracer: no dnat target for key %s in %q", pick, rule)
				}
				k.dnat = target[0] + ":" + target[1]
			}
			ap, err := netip.ParseAddrPort(k.dnat)
			if err != nil {
				t.Fatalf("bad dnat in %q: %v", rule, err)
			}
			k.dst, k.port = ap.Addr().String(), int(ap.Port())
			return "accept", true
		case "update": // update @set { ip saddr }
			i += 6
			continue
		}
		if tok[i] == "mark" && i+1 < len(tok) && tok[i+1] == "set" { // mark set mark or|xor V
			v, _ := strconv.ParseUint(tok[i+4], 0, 32)
			if tok[i+3] == "or" {
				k.mark |= uint32(v)
			} else {
				k.mark ^= uint32(v)
			}
			i += 5
			continue
		}
		// A match: selectors joined by ".", then vmap or [op] value.
		var vals []string
		for {
			v, n := tr.selector(t, tok[i:], k, rule)
			vals = append(vals, v)
			i += n
			if i < len(tok) && tok[i] == "." {
				i++
				continue
			}
			break
		}
		if tok[i] == "vmap" {
			verdictStr := tr.vmap(t, tok[i+1:], vals, rule)
			if verdictStr == "" {
				return "", false
			}
			f := strings.Fields(verdictStr)
			target := ""
			if len(f) > 1 {
				target = f[1]
			}
			return doVerdict(f[0], target), true
		}
		neg := false
		if tok[i] == "!=" {
			neg = true
			i++
		} else if tok[i] == "==" {
			i++
		}
		if tok[i] == "{" { // anonymous set: { a, b }
			end := slices.Index(tok[i:], "}")
			if end < 0 {
				t.Fatalf("tracer: unterminated set in %q", rule)
			}
			in := false
			for _, e := range tok[i+1 : i+end] {
				in = in || tr.matches(t, vals, strings.TrimSuffix(e, ","), rule)
			}
			if in == neg {
				return "", false
			}
			i += end + 1
			continue
		}
		if tr.matches(t, vals, tok[i], rule) == neg {
			return "", false
		}
		i++
	}
	return "continue", true
}

// selector evaluates a packet selector at the start of tok.
func (tr *tracer) selector(t *testing.T, tok []string, k *pkt, rule string) (string, int) {
	t.Helper()
	switch {
	case tok[0] == "ip" && tok[1] == "saddr":
		return k.src, 2
	case tok[0] == "ip" && tok[1] == "daddr":
		return k.dst, 2
	case tok[0] == "meta" && tok[1] == "l4proto":
		return k.proto, 2
	case tok[0] == "th" && tok[1] == "dport":
		return strconv.Itoa(k.port), 2
	case tok[0] == "ct" && tok[1] == "state":
		if k.invalid {
			return "invalid", 2
		}
		return "new", 2
	case tok[0] == "ct" && tok[1] == "status":
		if k.dnat != "" {
			return "dnat", 2
		}
		return "", 2
	case tok[0] == "fib" && tok[2] == "type":
		ip := k.src
		if tok[1] == "daddr" {
			ip = k.dst
		}
		if tr.isLocal(ip) {
			return "local", 3
		}
		return "unicast", 3
	case tok[0] == "numgen": // numgen random mod N [offset O]
		n, _ := strconv.Atoi(tok[3])
		if n > k.choices {
			k.choices = n
		}
		if len(tok) > 5 && tok[4] == "offset" {
			off, _ := strconv.Atoi(tok[5])
			return strconv.Itoa(off + k.pick%n), 6
		}
		return strconv.Itoa(k.pick % n), 4
	case tok[0] == "mark" && len(tok) > 2 && tok[1] == "and":
		v, _ := strconv.ParseUint(tok[2], 0, 32)
		return strconv.Itoa(int(k.mark & uint32(v))), 3
	}
	t.Fatalf("tracer: unknown selector at %q in %q", strings.Join(tok, " "), rule)
	return "", 0
}

// matches compares the values of a (possibly concatenated) selector with a
// literal or with the elements of a named set.
func (tr *tracer) matches(t *testing.T, vals []string, want, rule string) bool {
	t.Helper()
	if strings.HasPrefix(want, "@") {
		name := want[1:]
		s := tr.fake.Table.Sets[name]
		if s == nil {
			t.Fatalf("tracer: no set %q in %q", name, rule)
		}
		for _, e := range s.Elements {
			if len(e.Key) != len(vals) {
				t.Fatalf("tracer: set %q has keys of %d fields, rule %q matches %d", name, len(e.Key), rule, len(vals))
			}
			in := true
			for i := range vals {
				in = in && ipMatch(vals[i], e.Key[i])
			}
			if in {
				return true
			}
		}
		return false
	}
	if len(vals) != 1 {
		t.Fatalf("tracer: concatenation compared with a literal in %q", rule)
	}
	val := vals[0]
	if strings.Contains(want, "/") || strings.Contains(val, ".") {
		return ipMatch(val, want)
	}
	return val == want
}

func ipMatch(ip, pattern string) bool {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	if pfx, err := netip.ParsePrefix(pattern); err == nil {
		return pfx.Contains(a)
	}
	b, err := netip.ParseAddr(pattern)
	return err == nil && a == b
}

// vmap looks up key in "@map" or a literal "{ k : verdict , ... }".
func (tr *tracer) vmap(t *testing.T, tok []string, key []string, rule string) string {
	t.Helper()
	if strings.HasPrefix(tok[0], "@") {
		m := tr.fake.Table.Maps[tok[0][1:]]
		if m == nil {
			t.Fatalf("tracer: no map %q in %q", tok[0], rule)
		}
		if e := m.FindElement(key...); e != nil {
			return strings.Join(e.Value, " ")
		}
		return ""
	}
	body := strings.Join(tok, " ")
	body = strings.TrimSuffix(strings.TrimPrefix(body, "{ "), " }")
	for _, arm := range strings.Split(body, " , ") {
		kv := strings.SplitN(arm, " : ", 2)
		if kv[0] == strings.Join(key, " . ") {
			return kv[1]
		}
	}
	return ""
}

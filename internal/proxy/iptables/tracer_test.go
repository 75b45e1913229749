package iptables

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/svcnet/svcnet/internal/proxy/proxytest"
)

// tracer evaluates the fake's tables for one packet. It understands
// exactly the matches and targets this package writes; anything else
// fails the test.
type tracer struct {
	fake    *Fake
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
	// pick is the load-balancing choice followed; choices is how many
	// the spreading chain offered.
	pick, choices int
	// invalid: conntrack marks the packet INVALID; the nat table skips it.
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

// Netfilter order for a new connection: nat before filter on each hook.
func (tr *tracer) run(t *testing.T, p proxytest.Packet, pick int) (proxytest.Branch, int) {
	t.Helper()
	k := &pkt{src: p.SrcIP, dst: p.DstIP, port: p.DstPort, proto: strings.ToLower(string(p.Protocol)), pick: pick, choices: 1,
		invalid: p.Invalid}
	final := func(v string) (proxytest.Branch, bool) {
		switch v {
		case "DROP":
			return proxytest.Branch{Verdict: proxytest.Drop}, true
		case "REJECT":
			return proxytest.Branch{Verdict: proxytest.Reject}, true
		}
		return proxytest.Branch{}, false
	}
	steps := [][2]string{{tableNAT, "PREROUTING"}}
	fromHost := tr.isLocal(p.SrcIP)
	if fromHost {
		steps = [][2]string{{tableNAT, "OUTPUT"}, {tableFilter, "OUTPUT"}}
	}
	for i := 0; i < len(steps); i++ {
		if !k.invalid || steps[i][0] != tableNAT {
			if b, stop := final(tr.runChain(t, steps[i][0], steps[i][1], k, 0)); stop {
				return b, k.choices
			}
		}
		if i == len(steps)-1 && steps[i][1] != "INPUT" && steps[i][1] != "FORWARD" && steps[i][1] != "POSTROUTING" {
			switch {
			case tr.isLocal(k.dst) && fromHost:
				return proxytest.Branch{Verdict: proxytest.Local}, k.choices
			case tr.isLocal(k.dst):
				steps = append(steps, [2]string{tableFilter, "INPUT"})
			case fromHost:
				steps = append(steps, [2]string{tableNAT, "POSTROUTING"})
			default:
				steps = append(steps, [2]string{tableFilter, "FORWARD"}, [2]string{tableNAT, "POSTROUTING"})
			}
		}
	}
	switch {
	case tr.isLocal(k.dst):
		return proxytest.Branch{Verdict: proxytest.Local}, k.choices
	case k.dnat == "":
		return proxytest.Branch{Verdict: proxytest.Forward, Masquerade: k.masq}, k.choices
	}
	return proxytest.Branch{Verdict: proxytest.DNAT, Endpoint: k.dnat, Masquerade: k.masq}, k.choices
}

// runChain returns a terminating target ("ACCEPT", "DROP", "REJECT") or ""
// when the chain fell through or returned.
func (tr *tracer) runChain(t *testing.T, table, chain string, k *pkt, depth int) string {
	t.Helper()
	if depth > 20 {
		t.Fatalf("chain recursion too deep at %q", chain)
	}
	rules, ok := tr.fake.Rules(table, chain)
	if !ok {
		t.Fatalf("no chain %s in %s", chain, table)
	}
	stat := 0
	for _, r := range rules {
		if strings.Contains(r, "-m statistic") {
			k.choices = max(k.choices, strings.Count(strings.Join(rules, "\n"), "-m statistic")+1)
		}
		args, err := splitRule(r)
		if err != nil {
			t.Fatal(err)
		}
		target, matched := tr.matchRule(t, args, k, &stat, r)
		if !matched {
			continue
		}
		switch v := tr.target(t, table, target, k, depth, r); v {
		case "":
			continue
		case "RETURN":
			return ""
		default:
			return v
		}
	}
	return ""
}

// matchRule evaluates the matches of a rule and returns its target args.
func (tr *tracer) matchRule(t *testing.T, a []string, k *pkt, stat *int, rule string) ([]string, bool) {
	t.Helper()
	neg := false
	for i := 0; i < len(a); {
		ok := true
		switch a[i] {
		case "!":
			neg = true
			i++
			continue
		case "-j":
			return a[i:], true
		case "-s", "-d":
			ip := k.src
			if a[i] == "-d" {
				ip = k.dst
			}
			ok = ipMatch(ip, a[i+1])
			i += 2
		case "-p":
			ok = k.proto == a[i+1]
			i += 2
		case "--dport":
			ok = strconv.Itoa(k.port) == a[i+1]
			i += 2
		case "-m":
			i += 2
			continue
		case "--comment":
			i += 2
			continue
		case "--dst-type", "--src-type":
			ip := k.src
			if a[i] == "--dst-type" {
				ip = k.dst
			}
			if a[i+1] != "LOCAL" {
				t.Fatalf("tracer: unknown addrtype in %q", rule)
			}
			ok = tr.isLocal(ip)
			i += 2
		case "--mark": // V/M
			vm := strings.SplitN(a[i+1], "/", 2)
			v, _ := strconv.ParseUint(vm[0], 0, 32)
			m, _ := strconv.ParseUint(vm[1], 0, 32)
			ok = k.mark&uint32(m) == uint32(v)
			i += 2
		case "--ctstate":
			state := "NEW"
			if k.invalid {
				state = "INVALID"
			}
			ok = slices.Contains(strings.Split(a[i+1], ","), state)
			i += 2
		case "--mode": // statistic: --mode random --probability P
			ok = k.pick == *stat
			*stat++
			i += 4
		case "--name": // recent: an empty list on a first packet
			i += 2
			switch a[i] {
			case "--set":
				i++
			case "--rcheck": // --rcheck --seconds N --reap
				ok = false
				i += 4
			default:
				t.Fatalf("tracer: unknown recent use in %q", rule)
			}
		default:
			t.Fatalf("tracer: unknown match %q in %q", a[i], rule)
		}
		if ok == neg {
			return nil, false
		}
		neg = false
	}
	t.Fatalf("tracer: rule without target %q", rule)
	return nil, false
}

// target applies a target and returns "" to continue with the next rule,
// "RETURN", or a terminating verdict.
func (tr *tracer) target(t *testing.T, table string, a []string, k *pkt, depth int, rule string) string {
	t.Helper()
	switch a[1] {
	case "ACCEPT", "DROP", "REJECT", "RETURN":
		return a[1]
	case "MARK": // --or-mark V | --xor-mark V
		v, _ := strconv.ParseUint(a[3], 0, 32)
		if a[2] == "--or-mark" {
			k.mark |= uint32(v)
		} else {
			k.mark ^= uint32(v)
		}
		return ""
	case "MASQUERADE":
		k.masq = true
		return "ACCEPT"
	case "DNAT": // --to-destination A:P
		ap, err := netip.ParseAddrPort(a[3])
		if err != nil {
			t.Fatalf("tracer: bad DNAT in %q: %v", rule, err)
		}
		k.dnat, k.dst, k.port = a[3], ap.Addr().String(), int(ap.Port())
		return "ACCEPT"
	}
	if v := tr.runChain(t, table, a[1], k, depth+1); v != "" {
		return v
	}
	return ""
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

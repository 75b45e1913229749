package iptables

import (
	"crypto/sha256"
	"encoding/base32"
	"strings"

	"github.com/svcnet/svcnet/internal/proxy"
)

// Top-level chains the proxier owns.
const (
	chainServices         = "KUBE-SERVICES"
	chainNodePorts        = "KUBE-NODEPORTS"
	chainPostrouting      = "KUBE-POSTROUTING"
	chainMarkMasq         = "KUBE-MARK-MASQ"
	chainExternalServices = "KUBE-EXTERNAL-SERVICES"
	chainForward          = "KUBE-FORWARD"
	chainProxyFirewall    = "KUBE-PROXY-FIREWALL"

	tableNAT    = "nat"
	tableFilter = "filter"

	// masqMark is the packet mark bit asking KUBE-POSTROUTING to
	// masquerade (the bit kube-proxy uses).
	masqMark = "0x4000"

	// hookComment tags every rule the proxier adds to a built-in chain.
	hookComment = "svcnet"
)

// Per-service chain prefixes; chains with one of them that no Service
// wants are deleted on a full sync.
const (
	prefixSVC = "KUBE-SVC-"
	prefixSVL = "KUBE-SVL-"
	prefixEXT = "KUBE-EXT-"
	prefixFW  = "KUBE-FW-"
	prefixSEP = "KUBE-SEP-"
)

var servicePrefixes = []string{prefixSVC, prefixSVL, prefixEXT, prefixFW, prefixSEP}

// natStaticChains and filterStaticChains are rewritten on every sync.
var (
	natStaticChains    = []string{chainServices, chainNodePorts, chainPostrouting, chainMarkMasq}
	filterStaticChains = []string{chainServices, chainExternalServices, chainForward, chainProxyFirewall, chainNodePorts}
)

// hook is one jump rule from a built-in chain to a top-level chain.
type hook struct {
	table, chain string
	args         []string
}

// hooks are the jump rules, in the order they must appear at the top of
// each built-in chain.
var hooks = []hook{
	{tableNAT, "PREROUTING", []string{"-j", chainServices}},
	{tableNAT, "OUTPUT", []string{"-j", chainServices}},
	{tableNAT, "POSTROUTING", []string{"-j", chainPostrouting}},
	{tableFilter, "INPUT", []string{"-m", "conntrack", "--ctstate", "NEW", "-j", chainProxyFirewall}},
	{tableFilter, "INPUT", []string{"-m", "conntrack", "--ctstate", "NEW", "-j", chainExternalServices}},
	{tableFilter, "INPUT", []string{"-j", chainNodePorts}},
	{tableFilter, "FORWARD", []string{"-m", "conntrack", "--ctstate", "NEW", "-j", chainProxyFirewall}},
	{tableFilter, "FORWARD", []string{"-j", chainForward}},
	{tableFilter, "FORWARD", []string{"-m", "conntrack", "--ctstate", "NEW", "-j", chainServices}},
	{tableFilter, "FORWARD", []string{"-m", "conntrack", "--ctstate", "NEW", "-j", chainExternalServices}},
	{tableFilter, "OUTPUT", []string{"-m", "conntrack", "--ctstate", "NEW", "-j", chainProxyFirewall}},
	{tableFilter, "OUTPUT", []string{"-m", "conntrack", "--ctstate", "NEW", "-j", chainServices}},
}

// ruleArgs returns the hook's full rule arguments, comment included.
func (h hook) ruleArgs() []string {
	return append([]string{"-m", "comment", "--comment", hookComment}, h.args...)
}

// hash16 names chains like kube-proxy: 16 base32 characters of a SHA-256,
// keeping names within iptables' 28-character limit.
func hash16(s string) string {
	sum := sha256.Sum256([]byte(s))
	return base32.StdEncoding.EncodeToString(sum[:])[:16]
}

func portKey(spn proxy.ServicePortName) string {
	return spn.String() + "/" + strings.ToLower(string(spn.Protocol))
}

func svcChain(spn proxy.ServicePortName) string { return prefixSVC + hash16(portKey(spn)) }
func svlChain(spn proxy.ServicePortName) string { return prefixSVL + hash16(portKey(spn)) }
func extChain(spn proxy.ServicePortName) string { return prefixEXT + hash16(portKey(spn)) }
func fwChain(spn proxy.ServicePortName) string  { return prefixFW + hash16(portKey(spn)) }

func sepChain(spn proxy.ServicePortName, ep proxy.Endpoint) string {
	return prefixSEP + hash16(portKey(spn)+"/"+ep.String())
}

func isServiceChain(name string) bool {
	for _, p := range servicePrefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

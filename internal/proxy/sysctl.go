package proxy

import (
	"os"
	"strings"
)

// tcpBeLiberalPath is the sysctl that makes conntrack accept TCP segments
// outside the window instead of marking them INVALID; it is per network
// namespace, so this reads the proxy's own node's.
const tcpBeLiberalPath = "/proc/sys/net/netfilter/nf_conntrack_tcp_be_liberal"

// tcpBeLiberal reports whether this node's conntrack is liberal, in which
// case backends need not drop INVALID packets (BackendConfig.DropInvalid).
func tcpBeLiberal() bool {
	return sysctlEnabled(tcpBeLiberalPath)
}

// sysctlEnabled reports whether the integer sysctl at path is non-zero; a
// missing or unreadable one (no conntrack module yet) counts as zero.
func sysctlEnabled(path string) bool {
	b, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	v := strings.TrimSpace(string(b))
	return v != "" && v != "0"
}

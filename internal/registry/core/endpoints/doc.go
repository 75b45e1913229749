// Package endpoints describes the core/v1 endpoints resource: defaulting
// (port protocol TCP), validation of subsets with upstream's messages
// (addresses that are valid IPs outside the loopback, link-local and
// unspecified ranges, ports, node names, hostnames), and the strategy that
// repacks subsets into their canonical form as kube-apiserver does.
package endpoints

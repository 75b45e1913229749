// Package e2e runs svcnet as real processes: `svcnet server` with its
// agent, proxy and DNS inside a network namespace of its own, driven by
// stock kubectl, with traffic sent to ClusterIPs and pod IPs only from
// inside that namespace.
package e2e

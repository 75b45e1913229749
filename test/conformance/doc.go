// Package conformance runs upstream Kubernetes' end-to-end suite, the
// e2e.test binary built from a pinned k8s.io/kubernetes release
// (hack/conformance/), against a two-node svcnet cluster made of network
// namespaces, and turns its JUnit report into a Markdown table.
//
// TestConformance is driven by hack/conformance.sh (`make conformance`);
// without -e2e-binary it is skipped, so `go test ./...` never starts it.
// The cluster is the e2e framework's (test/e2e/framework): a LAN namespace
// with a bridge, node1 running `svcnet server` and node2 `svcnet agent`.
// e2e.test runs inside node1's namespace, the only place where ClusterIPs
// and pod IPs exist, and never in the host's.
package conformance

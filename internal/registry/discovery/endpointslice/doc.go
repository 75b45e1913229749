// Package endpointslice describes the discovery.k8s.io/v1 endpointslices
// resource: defaulting (port name "" and protocol TCP), validation with
// upstream's limits, messages and field paths (address type immutable,
// 1000 endpoints of 1..100 addresses, node names, topology hints), and
// the strategy that bumps generation on changes.
package endpointslice

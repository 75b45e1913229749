// Package nftables is svcnet's nftables service-proxy backend.
//
// It programs one table, "svcnet" in the inet family (IPv4 only for now),
// through sigs.k8s.io/knftables transactions. The layout follows
// kube-proxy's nftables mode: a service-ips verdict map and a
// service-nodeports map dispatch to per-service chains, which spread new
// connections over per-endpoint chains with "numgen random"; endpoint
// chains DNAT to the pod. Services without usable endpoints are rejected
// (or dropped, for Local policies) from filter chains, and unallocated IPs
// of the service CIDRs are dropped.
//
// The proxier keeps the last committed ruleset in memory and, on a partial
// sync, rewrites only the chains, sets and map elements of Services that
// changed. A full sync (at start, periodically, and after any error)
// rewrites every chain and map and deletes leftovers found in the kernel.
package nftables

// Package nftables is svcnet's nftables service-proxy backend.
//
// It programs one table, "svcnet" in the inet family (IPv4 only for now),
// through sigs.k8s.io/knftables transactions. The layout follows
// kube-proxy's nftables mode: a service-ips verdict map and a
// service-nodeports map dispatch to per-service chains. Unlike kube-proxy,
// a service chain DNATs itself, with "numgen random" picking a key of a
// shared dnat-targets map that holds the endpoints' addresses (dnat.go), so
// a Service costs one chain (two when reachable from outside) and no
// anonymous set, instead of one more chain per endpoint; only Services
// with ClientIP affinity keep per-endpoint chains, which record clients in
// per-endpoint affinity sets. Hairpin traffic (a pod reaching itself) is
// found in postrouting by the hairpin-endpoints set of "ip . ip" pairs and
// masqueraded. Services without usable endpoints are rejected (or dropped,
// for Local policies) from filter chains, and unallocated IPs of the
// service CIDRs are dropped. Forwarded packets conntrack marks INVALID are
// dropped unless the kernel tracks TCP liberally (BackendConfig.DropInvalid).
//
// The proxier keeps the last committed ruleset in memory and, on a partial
// sync, rewrites only the chains, sets and map elements of Services that
// changed. A full sync (at start, periodically, and after any error)
// rewrites every chain and map and deletes leftovers found in the kernel.
package nftables

// Package etcd runs an embedded etcd member for svcnet and dials external
// etcd clusters.
//
// By default the member is a single-member cluster listening only on
// loopback addresses with ports chosen by the kernel, so several servers
// (and tests) can run on one machine. With client/peer URLs and an initial
// cluster it is one member of a multi-member cluster (`svcnet etcd`), which
// several servers share through --etcd-servers. It keeps etcd's defaults for
// durability (fsync before acknowledging) and turns on periodic
// auto-compaction, which etcd leaves off by default.
package etcd

// Package etcd runs an embedded single-member etcd server for svcnet and
// dials external etcd clusters.
//
// The embedded server listens only on loopback addresses with ports chosen
// by the kernel, so several servers (and tests) can run on one machine. It
// keeps etcd's defaults for durability (fsync before acknowledging) and
// turns on periodic auto-compaction, which etcd leaves off by default.
package etcd

// Package framework starts a real svcnet server (embedded etcd, real TLS)
// in the test process and runs the stock kubectl binaries against it.
package framework

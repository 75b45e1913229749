// Package integration tests svcnet server as a whole: the real API server
// on real embedded etcd, driven by client-go and the stock kubectl binaries.
package integration

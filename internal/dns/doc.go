// Package dns is svcnet's cluster DNS server: it answers names under the
// cluster domain (Services, endpoints, pods, PTR, dns-version) from informer
// caches through package dns/kubernetes, forwards every other name to the
// host's upstream resolvers through package dns/forward, and serves
// Prometheus metrics and /health, /ready endpoints.
package dns

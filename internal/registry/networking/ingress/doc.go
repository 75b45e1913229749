// Package ingress describes the networking.k8s.io/v1 ingresses resource
// (short name ing) with its /status subresource: upstream's validation
// rules, messages and field paths (rules or a default backend, path types
// and paths, service or resource backends, TLS hosts and secret names,
// the ingress class annotation), and the strategies that keep status out
// of spec writes and spec out of status writes.
package ingress

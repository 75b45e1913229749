// Package ingressclass describes the cluster-scoped networking.k8s.io/v1
// ingressclasses resource: the parameters scope default (Cluster),
// upstream's validation (a domain-prefixed controller name of at most 250
// bytes that never changes, parameters references by scope) and the
// strategy that bumps generation on spec changes.
package ingressclass

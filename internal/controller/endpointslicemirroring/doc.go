// Package endpointslicemirroring is the EndpointSlice mirroring
// controller: for every Service without a selector whose Endpoints object
// was written by hand, it keeps EndpointSlices (managed-by
// endpointslicemirroring-controller.k8s.io) that mirror the Endpoints, so
// consumers of EndpointSlices (proxies, DNS) see those backends too. It
// follows kube-controller-manager's controller of the same name: one slice
// per subset and address family, at most 1000 addresses mirrored per
// subset, Endpoints labelled endpointslice.kubernetes.io/skip-mirror=true
// (the API server's own "kubernetes" Endpoints) and leader-election records
// left alone.
package endpointslicemirroring

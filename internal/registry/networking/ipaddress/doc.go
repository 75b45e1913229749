// Package ipaddress describes the cluster-scoped networking.k8s.io/v1
// ipaddresses resource: upstream's validation (the name is an IP address
// in canonical form, spec.parentRef is required, names a resource and an
// object, and never changes). The objects share their keys with the
// ClusterIP allocator (internal/allocator/ipallocator): every allocated
// ClusterIP is an IPAddress whose parent is its Service, and an IPAddress
// a client creates holds its address against the allocator.
package ipaddress

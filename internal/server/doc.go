// Package server composes `svcnet server`: embedded or external etcd,
// certificates, the API server with its allocators and repair loop, the
// bootstrap objects (namespaces, the kubernetes Service), and the other
// components, all run under one errgroup.
package server

// Package endpointslice runs the EndpointSlice controller: for every Service
// with a selector it publishes the matching Pods as discovery.k8s.io/v1
// EndpointSlices (one set per address family and per distinct port
// mapping, at most MaxEndpointsPerSlice endpoints each), labelled
// kubernetes.io/service-name and endpointslice.kubernetes.io/managed-by and
// owned by the Service. It writes only the slices whose content changed,
// recreates slices deleted behind its back and removes the slices of
// deleted Services. Services without a selector are left to the mirroring
// controller.
package endpointslice

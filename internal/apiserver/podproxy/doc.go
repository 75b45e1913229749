// Package podproxy serves the pods/proxy and services/proxy subresources,
// as kube-apiserver does: the API server itself sends the request on over
// HTTP(S) to the pod's IP, or to a ready endpoint of the Service, and
// streams the answer back. URL forms:
//
//	/api/v1/namespaces/<ns>/pods/[<scheme>:]<name>[:<port>]/proxy/<path>
//	/api/v1/namespaces/<ns>/services/[<scheme>:]<name>[:<port name or number>]/proxy/<path>
//
// The API server dials pod IPs directly (not through the node's agent), so
// its host must route to every node's pod range: on a node running an
// agent it does, as agents route each other's pod CIDRs.
package podproxy

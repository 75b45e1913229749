// Package bootstrap keeps the objects every cluster starts with: the
// default, kube-system, kube-public and kube-node-lease namespaces, and the
// default/kubernetes Service (first IP of the service range, port 443) with
// Endpoints and an EndpointSlice pointing at the API server, or at every
// live API server when several share the cluster; and the default
// networking.k8s.io/v1 ServiceCIDR "kubernetes", which mirrors
// --service-cluster-ip-range and is marked Ready.
package bootstrap

// Package healthcheck serves the healthCheckNodePort of Services with
// externalTrafficPolicy Local, as kube-proxy does: an HTTP server per
// port answering 200 while this node has ready local endpoints for the
// Service (and the proxy is healthy) and 503 otherwise, so that an
// external load balancer sends traffic only to nodes with endpoints.
package healthcheck

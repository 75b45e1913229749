// Package apiserver is svcnet's Kubernetes API server: an HTTPS server that
// authenticates every request, routes resource requests to one rest.Handler
// per resource, and serves discovery, OpenAPI, health and version.
package apiserver

// Package discovery serves the Kubernetes discovery documents for the
// resources svcnet serves: /api, /api/v1, /apis, /apis/<group> and
// /apis/<group>/<version> in the legacy (unaggregated) form, and
// aggregated discovery (apidiscovery.k8s.io v2 and v2beta1) on /api and
// /apis for clients that ask for it, with ETag caching like upstream.
package discovery

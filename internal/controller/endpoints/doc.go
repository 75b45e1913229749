// Package endpoints is the Endpoints controller: it keeps the legacy
// core/v1 Endpoints object of every Service with a selector (same name as
// the Service) listing the matching pods, as kube-controller-manager's
// endpoint controller does. Addresses are capped at 1000 per object, with
// the endpoints.kubernetes.io/over-capacity annotation marking truncation.
// Endpoints of Services without a selector belong to their users and are
// never written here.
package endpoints

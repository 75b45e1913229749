// Package authz decides whether a user may do something: the Authorizer
// the API server and the authorization.k8s.io reviews (kubectl auth
// can-i) ask. Today the only one is AlwaysAllow, which is what svcnet
// enforces: every authenticated identity may do everything (see
// docs/security.md); RBAC and the Node authorizer plug in here.
package authz

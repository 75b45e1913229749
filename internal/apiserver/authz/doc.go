// Package authz decides whether a user may do something: the Authorizer
// the API server's authorization filter and the authorization.k8s.io
// reviews (kubectl auth can-i) ask. Union chains authorizers as
// kube-apiserver's --authorization-mode does; PrivilegedGroup lets
// system:masters do everything; the RBAC and Node authorizers live in the
// subpackages.
package authz

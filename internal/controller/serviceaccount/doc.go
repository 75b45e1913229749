// Package serviceaccount is the ServiceAccount controller: every active
// namespace has a ServiceAccount named "default", created with the
// namespace and re-created when deleted, as kube-controller-manager's
// serviceaccount-controller keeps it.
package serviceaccount

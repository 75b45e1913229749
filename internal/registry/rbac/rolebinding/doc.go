// Package rolebinding serves rbac.authorization.k8s.io/v1 RoleBindings and
// ClusterRoleBindings with upstream's validation (a roleRef that never
// changes, subjects of known kinds). Storing them grants nothing yet:
// svcnet enforces no authorization (docs/security.md).
package rolebinding

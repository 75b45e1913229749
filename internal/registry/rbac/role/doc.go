// Package role serves rbac.authorization.k8s.io/v1 Roles and ClusterRoles
// with upstream's validation. Storing them grants nothing yet: svcnet
// enforces no authorization (docs/security.md).
package role

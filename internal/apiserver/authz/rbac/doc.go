// Package rbac is the RBAC authorizer, as kube-apiserver's
// --authorization-mode=RBAC: a request is allowed when a rule of a Role or
// ClusterRole, bound to the requesting user, one of its groups or its
// ServiceAccount, covers it. ClusterRoleBindings apply everywhere;
// RoleBindings only inside their namespace. It never denies: without a
// matching rule it has no opinion, and the next authorizer of the union
// decides.
//
// EscalationCheck is the admission function that keeps RBAC from being a
// way around itself: a Role, ClusterRole or binding may only be written by
// a user who already holds what it grants, or who was explicitly given the
// escalate or bind verb.
package rbac

// Package rbacpolicy is the default RBAC policy every cluster starts with,
// as kube-apiserver's bootstrap policy: the user-facing ClusterRoles
// (cluster-admin, and admin, edit and view built by aggregation from the
// system:aggregate-to-* roles), the system roles the API server, nodes,
// kube-proxy, DNS and the certificate flow need, their bindings, and
// svcnet's node bootstrap bindings as kubeadm writes them.
//
// Reconcile does what kube-apiserver's rbac/bootstrap-roles post-start
// hook does: it creates what is missing and, on objects annotated
// rbac.authorization.kubernetes.io/autoupdate other than "false", adds
// the rules, subjects and aggregation selectors the defaults have and the
// stored object lacks. It never takes anything away, so local additions
// survive, and an object annotated autoupdate "false" is left as it is.
package rbacpolicy

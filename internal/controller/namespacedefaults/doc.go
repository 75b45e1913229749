// Package namespacedefaults keeps what every active namespace has: the
// ServiceAccount "default" (kube-controller-manager's
// serviceaccount-controller) and the ConfigMap kube-root-ca.crt whose
// ca.crt is the cluster CA that clients in pods verify the API server with
// (its root-ca-cert-publisher). Both are created with the namespace,
// re-created when deleted, and the ConfigMap restored when edited.
package namespacedefaults

// Package rootcacert publishes the cluster CA: every active namespace has
// a ConfigMap kube-root-ca.crt whose ca.crt is the CA certificate clients
// in pods use to verify the API server, created with the namespace and
// restored when deleted or changed, as kube-controller-manager's
// root-ca-cert-publisher keeps it.
package rootcacert

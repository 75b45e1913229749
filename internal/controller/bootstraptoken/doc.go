// Package bootstraptoken is kube-controller-manager's tokencleaner: it
// deletes bootstrap-token Secrets (kube-system, type
// bootstrap.kubernetes.io/token) once their expiration has passed, or at
// once when it cannot be parsed, and looks again at the others when they
// are due to expire.
package bootstraptoken

// Package namespace describes the core/v1 namespaces resource: defaulting
// (the kubernetes.io/metadata.name label, phase Active), the create
// strategy that adds the "kubernetes" spec finalizer, validation with
// upstream's messages, and the strategies of the /status and /finalize
// subresources.
package namespace

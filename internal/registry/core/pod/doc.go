// Package pod describes the core/v1 pods resource: its defaulting (upstream's
// SetDefaults_Pod plus the admission defaults kube-apiserver applies on
// create: service account, default tolerations, priority), validation with
// upstream's messages, the create/update/status strategies, and the
// binding and graceful-deletion semantics of pods.
package pod

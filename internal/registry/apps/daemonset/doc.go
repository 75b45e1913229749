// Package daemonset describes the apps/v1 daemonsets resource: upstream's
// defaults (RollingUpdate with maxUnavailable 1 and maxSurge 0, revision
// history 10), validation, strategies and the /status subresource. The
// deprecated spec.templateGeneration lives, as in apps/v1 upstream, in the
// annotation deprecated.daemonset.template.generation, which the server
// owns: 1 on create, raised by one whenever the pod template changes.
package daemonset

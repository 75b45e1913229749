// Package replicaset describes the apps/v1 replicasets resource: upstream's
// defaults (one replica), validation, strategies and the /scale accessor.
package replicaset

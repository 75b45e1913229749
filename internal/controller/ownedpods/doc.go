// Package ownedpods is what the controllers that own pods through
// controller references share: a pod's readiness and availability, and
// the handling of pod informer events for a controller that counts its
// creations and deletions with expectations (ReplicaSet, DaemonSet).
package ownedpods

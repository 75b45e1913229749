// Package controllerrevision describes the apps/v1 controllerrevisions
// resource, the immutable history snapshots stateful sets (and daemon sets)
// keep: data is required and may not change, revision is non-negative.
package controllerrevision

// Package deployment describes the apps/v1 deployments resource: upstream's
// defaults (one replica, RollingUpdate 25%/25%, revision history 10,
// progress deadline 600s), validation, strategies and the /scale accessor.
package deployment

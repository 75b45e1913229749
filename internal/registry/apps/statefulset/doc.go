// Package statefulset describes the apps/v1 statefulsets resource:
// upstream's defaults (one replica, OrderedReady, RollingUpdate with
// partition 0, revision history 10, Retain/Retain claim retention),
// validation, strategies and the /scale accessor.
package statefulset

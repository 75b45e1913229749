// Package lease describes the coordination.k8s.io/v1 leases resource used
// for leader election and node heartbeats: its validation with upstream's
// messages and the create/update strategy.
package lease

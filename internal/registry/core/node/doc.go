// Package node describes the cluster-scoped core/v1 nodes resource:
// defaulting (podCIDR/podCIDRs kept consistent, allocatable from
// capacity), validation with upstream's messages (taints, pod CIDRs
// immutable once set, resource quantities), the create/update and /status
// strategies, and the spec.unschedulable field selector.
package node

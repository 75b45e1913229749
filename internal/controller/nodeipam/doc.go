// Package nodeipam assigns each Node a pod CIDR (spec.podCIDR and
// spec.podCIDRs) carved out of the cluster CIDR, as kube-controller-manager's
// range allocator does: one fixed-size block per node, never two nodes in
// the same block, blocks rebuilt from the Nodes at start so restarts keep
// every assignment.
package nodeipam

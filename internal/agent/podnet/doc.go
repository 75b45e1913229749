// Package podnet gives pods their network: a node bridge holding the first
// address of the node's podCIDR, one named network namespace per pod joined
// to the bridge by a veth pair, host-local IPAM persisted on disk, and routes
// to the podCIDRs of the other nodes.
package podnet

// Package podnet gives pods their network: a node bridge holding the first
// address of the node's podCIDR, one named network namespace per pod joined
// to the bridge by a veth pair whose bridge port is in hairpin mode,
// host-local IPAM persisted on disk, routes to the podCIDRs of the other
// nodes, the pods' hostPorts (nftables table svcnet-hostports, as CNI
// portmap), and the node's own namespace for hostNetwork pods.
package podnet

// Package framework starts svcnet nodes for end-to-end tests. Each node is
// a named network namespace (`ip netns`) with a veth "uplink" carrying the
// node's InternalIP and a default route, so the cluster's private
// addresses exist only inside it; every command that talks to the cluster
// (kubectl, curl) runs inside the namespace through `ip netns exec`.
package framework

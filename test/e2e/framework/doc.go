// Package framework starts svcnet nodes for end-to-end tests. Each node is
// a named network namespace (`ip netns`) with a veth "uplink" carrying the
// node's InternalIP and a default route, so the cluster's private
// addresses exist only inside it; every command that talks to the cluster
// (kubectl, curl) runs inside the namespace through `ip netns exec`.
//
// Several nodes (a server and agents) plug their uplinks into a LAN, a
// namespace with a bridge; NewHost adds a machine on it that runs no
// svcnet, a client outside the cluster. Kill, Restart, Disconnect and
// Reconnect stage node failures. At cleanup every process of a node goes,
// pods that outlived a killed agent included, then its namespace.
//
// Each node's svcnet output is kept in memory (and logged when the test
// fails); with $SVCNET_E2E_LOG_DIR set it is also appended to
// <dir>/<node name>.log as it is written. Stock kubectl is found by package
// test/kubectl ($KUBECTL, PATH, or _output/bin/kubectl); without one the
// tests skip.
package framework

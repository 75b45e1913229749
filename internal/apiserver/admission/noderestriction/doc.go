// Package noderestriction is svcnet's NodeRestriction admission plugin:
// it limits the writes of node agents (system:node:<name>, group
// system:nodes) that the Node authorizer lets through to the node's own
// objects, as kube-apiserver's plugin of that name does. A node may
// delete, evict and write the status of only the pods bound to it, create
// no pods (svcnet has no mirror pods), create and update only its own
// Node without touching its taints or the labels reserved for the
// cluster's administrators, delete no Node, write only its own Lease, ask
// only for ServiceAccount tokens bound to its own pods, and publish only
// its own kube-dns EndpointSlice. Users that are not nodes, and writes of
// the server itself, pass unchecked.
package noderestriction

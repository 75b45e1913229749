// Package node is the Node authorizer: it lets an agent that
// authenticates as system:node:<name> (group system:nodes) read and change
// only what the pods bound to its Node need, as kube-apiserver's
// --authorization-mode=Node does.
//
// Secrets, ConfigMaps, PersistentVolumeClaims, PersistentVolumes and
// ServiceAccount tokens are allowed through a graph kept from the pod (and
// PersistentVolume) informers: an object is readable by a node while a pod
// bound to that node (spec.nodeName) references it. Everything else a node
// may do is a fixed list of rules (rules.go), some of them limited to the
// node's own objects (its Node, its Lease, its kube-dns EndpointSlice).
// Requests the authorizer does not allow get no opinion, so RBAC, which
// grants nodes nothing by default, decides after it. The NodeRestriction
// admission plugin (apiserver/admission/noderestriction) checks the
// objects of the writes this authorizer lets through.
package node

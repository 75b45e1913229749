// Package nodelifecycle notices Nodes whose agent stopped sending
// heartbeats and moves their work elsewhere, as kube-controller-manager's
// node lifecycle controller and taint-based eviction do.
//
// A heartbeat is a renewal of the Node's Lease in kube-node-lease or a new
// lastHeartbeatTime on its Ready condition; the controller times them with
// its own clock, so clock skew between machines does not matter. When
// neither advanced within the grace period, the Node's conditions become
// Unknown ("Kubelet stopped posting node status."), it gets the
// node.kubernetes.io/unreachable taints, its Pods are marked not Ready (so
// they leave EndpointSlices) and, after the eviction timeout, deleted (so
// their controllers recreate them on other Nodes). When heartbeats resume
// the taints are removed.
package nodelifecycle

// Package leader runs a piece of work on exactly one of several processes:
// client-go leader election over a coordination.k8s.io Lease, as
// kube-controller-manager does. The work runs while this process holds the
// lease; when the lease is lost its context is cancelled, the elector
// waits for it to return and campaigns again.
package leader

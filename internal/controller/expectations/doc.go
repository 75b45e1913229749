// Package expectations records, per controller key, the pod creations a
// controller still expects its informer to show and the pods whose
// deletion it still expects, so a sync does not act twice on a cache that
// lags behind the controller's own writes (upstream's
// ControllerExpectations). The ReplicaSet and DaemonSet controllers share
// it.
package expectations

// Package probe runs a container's readiness, liveness and startup probes
// (httpGet, tcpSocket, exec, grpc as a TCP check) against the pod IP with
// kubelet's timing and threshold semantics.
package probe

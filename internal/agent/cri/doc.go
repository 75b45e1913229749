// Package cri runs a node's pods in a container runtime through the
// Container Runtime Interface (CRI v1), as kubelet does: one pod sandbox
// per pod (its network set up by the runtime's CNI plugins), images pulled
// as the container's imagePullPolicy says, and one supervisor per
// container that creates, starts and watches it, applies the restart
// policy with kubelet's back-off, and reports kubelet's waiting and
// termination reasons.
//
// The runtime holds the containers: when the agent stops they keep
// running, and the next agent finds its pods' sandboxes and containers
// again by their labels (the io.kubernetes.* labels kubelet sets, and
// svcnet.io/node-name) and re-adopts them.
//
// Translating a v1.Pod into sandbox and container configurations (security
// context, resources, mounts, port mappings) is in config.go; the
// supervisor in container.go; exec and attach through the runtime's
// streaming server in stream.go.
package cri

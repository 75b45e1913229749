// Package agent is svcnet's node agent, the kubelet of the system: it
// registers its Node, renews its Lease, and makes the pods bound to the node
// real — a network namespace and address from podnet, container processes
// from runtime, probes — and writes their status back through the API.
package agent

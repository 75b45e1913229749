// Command bench measures svcnet side by side in one run, entirely inside
// network namespaces of its own: request and connection rates with p99
// latency through ClusterIP, NodePort and LoadBalancer IP against the pod IP
// directly, for the nftables, iptables and userspace proxy modes; the time from
// creating one Service to its ClusterIP answering with 1k Services present;
// and DNS queries per second with 1k Services present.
//
// Run it as root with `make bench`. The same binary is re-executed under
// `ip netns exec` in hidden modes (load, dns, populate, program) so that
// every packet it sends starts inside the node's namespace.
package main

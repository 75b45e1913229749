// Command bench measures svcnet side by side in one run, entirely inside
// network namespaces of its own: request and connection rates with p99
// latency through ClusterIP, NodePort and LoadBalancer IP against the pod IP
// directly, for the nftables, iptables and userspace proxy modes; and, with
// 1k and 10k background Services (10 endpoints each) present, the API's
// create/watch/list figures, the time from creating one Service to it
// answering, the proxy's partial and full sync times, pod Ready -> its
// Service answering under readiness churn, DNS queries per second, and the
// memory of each component; and, where hack/build-e2e.sh built them, the
// same figures of the upstream peers side by side with svcnet's, with
// ratios: kube-proxy (nftables, iptables), CoreDNS with kubeadm's Corefile,
// and kube-apiserver with etcd.
//
// Run it as root with `make bench`. The same binary is re-executed under
// `ip netns exec` in hidden modes (load, dns, populate, program, api,
// churn, pods, fetch, wait) so that every packet it sends starts inside the
// node's namespace.
package main

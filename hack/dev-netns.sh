#!/usr/bin/env bash
# Creates (once) the network namespace the development server runs in:
# loopback, a veth "uplink" with the node address 172.30.0.1/24 and a
# default route through it, like a host on its own network. ClusterIPs,
# pod IPs and LoadBalancer IPs then exist only inside this namespace.
#
#   hack/dev-netns.sh            # prints the namespace name
set -euo pipefail
ns=${SVCNET_NETNS:-svcnet-dev}
if ! ip netns list | grep -qw "$ns"; then
  ip netns add "$ns"
  ip netns exec "$ns" sh -c '
    ip link set lo up &&
    ip link add uplink type veth peer name uplink-peer &&
    ip link set uplink-peer up &&
    ip addr add 172.30.0.1/24 dev uplink &&
    ip link set uplink up &&
    ip route add default via 172.30.0.254 dev uplink'
fi
echo "$ns"

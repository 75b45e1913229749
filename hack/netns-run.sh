#!/usr/bin/env bash
# Runs a command inside a fresh network namespace with only loopback up.
#
# Every test, demo and benchmark that starts svcnet's data plane or sends
# traffic to a ClusterIP, pod IP or LoadBalancer IP runs through this
# helper, so those private addresses exist only inside the namespace and no
# packet to them ever leaves the host's own network namespace.
#
#   hack/netns-run.sh go test ./...
#
# As root it uses `unshare --net`; otherwise a user namespace maps the
# caller to root first (`unshare --user --map-root-user --net`).
set -euo pipefail
if [ "${SVCNET_IN_NETNS:-}" = "1" ]; then
  exec "$@"
fi
if [ "$(id -u)" = "0" ]; then
  flags=(--net)
else
  flags=(--user --map-root-user --net)
fi
exec unshare "${flags[@]}" -- env SVCNET_IN_NETNS=1 bash -c 'ip link set lo up && exec "$@"' netns-run "$@"

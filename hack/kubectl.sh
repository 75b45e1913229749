#!/usr/bin/env bash
# Runs stock kubectl against the development server (hack/run-server.sh),
# inside its network namespace so that ClusterIPs and pod IPs printed by
# kubectl can be reached with the same wrapper: hack/kubectl.sh exec ...,
# or `ip netns exec svcnet-dev curl http://<ClusterIP>`. kubectl is
# $KUBECTL, kubectl on PATH or _output/bin/kubectl (hack/find-kubectl.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
kubectl=$(hack/find-kubectl.sh)
exec ip netns exec "${SVCNET_NETNS:-svcnet-dev}" "$kubectl" --kubeconfig "$PWD/_output/data/kubeconfig.yaml" \
  --cache-dir "$PWD/_output/kubectl-cache" "$@"

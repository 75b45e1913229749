#!/usr/bin/env bash
# Builds and runs `svcnet server` with all its state in _output/data,
# inside the network namespace of hack/dev-netns.sh (needs root), so the
# data plane never touches the host's own network. The API server listens
# on 127.0.0.1:6443 in that namespace; use hack/kubectl.sh to talk to it.
set -euo pipefail
cd "$(dirname "$0")/.."
go build -o bin/svcnet ./cmd/svcnet
mkdir -p _output/data
ns=$(hack/dev-netns.sh)
echo "svcnet runs in network namespace $ns; use: hack/kubectl.sh get svc" >&2
exec ip netns exec "$ns" bin/svcnet server --data-dir "$PWD/_output/data" --bind-address 127.0.0.1 \
  --advertise-address 172.30.0.1 --node-name "$(hostname | tr 'A-Z' 'a-z')" \
  --container-runtime process "$@"

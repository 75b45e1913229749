#!/usr/bin/env bash
# Builds and runs `svcnet server` with all its state in _output/data.
# The API server listens on 127.0.0.1:6443; the KUBECONFIG line it prints
# points kubectl at it.
set -euo pipefail
cd "$(dirname "$0")/.."
go build -o bin/svcnet ./cmd/svcnet
mkdir -p _output/data
exec bin/svcnet server --data-dir "$PWD/_output/data" --bind-address 127.0.0.1 "$@"

#!/usr/bin/env bash
# The project's test command (README, CI): static checks on the host, then
# the whole Go test suite with the race detector inside a fresh network
# namespace (hack/netns-run.sh), so no test can reach a non-loopback address.
set -euo pipefail
cd "$(dirname "$0")/.."

unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt needed on:"; echo "$unformatted"; exit 1
fi
go vet ./...
go build -o bin/svcnet ./cmd/svcnet
# Compile test binaries before entering the namespace (module downloads
# need the network; tests do not).
go test -race -count=1 -run '^$' ./... >/dev/null
# End-to-end tests run this binary in network namespaces of their own.
export SVCNET_BINARY="$PWD/bin/svcnet"
# -p 1: the privileged tests of different packages share this one
# namespace (bridges, routes, pod ranges), so they run one package at a time.
exec hack/netns-run.sh go test -p 1 -race -count=1 -timeout 20m "$@" ./...

#!/usr/bin/env bash
# Builds upstream Kubernetes' e2e.test and kubectl into _output/bin, at the
# release pinned by the wrapper module hack/conformance/ (its own go.mod, so
# the main module never sees k8s.io/kubernetes).
#
#   hack/build-e2e.sh [kubectl] [e2e.test]    (default: both)
#
# A cold build takes 10+ minutes on 2 CPUs, so a binary is rebuilt only when
# it is missing or when the wrapper's go.mod/go.sum or the Go toolchain
# changed since it was built (a stamp file beside it records that).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=$root/_output/bin
mkdir -p "$out"

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(kubectl e2e.test)

cd hack/conformance
# The version comes from go.mod, so that bumping it there is all it takes.
version=$(go list -m -f '{{.Version}}' k8s.io/kubernetes)
minor=$(echo "$version" | cut -d. -f2)
# Without these, both binaries report v0.0.0 (and e2e.test logs a skew).
ldflags="-X k8s.io/component-base/version.gitVersion=$version"
ldflags+=" -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor"
stamp=$( { cat go.mod go.sum; go version; } | sha256sum | cut -d' ' -f1)

for target in "${targets[@]}"; do
  bin=$out/$target
  if [ -x "$bin" ] && [ "$(cat "$bin.stamp" 2>/dev/null)" = "$stamp" ]; then
    echo "$target $version is up to date ($bin)"
    continue
  fi
  echo "Building $target $version (10+ minutes on 2 CPUs when nothing is cached)..."
  start=$SECONDS
  case $target in
    kubectl) go build -ldflags "$ldflags" -o "$bin.tmp" k8s.io/kubernetes/cmd/kubectl ;;
    e2e.test) go test -c -ldflags "$ldflags" -o "$bin.tmp" k8s.io/kubernetes/test/e2e ;;
    *) echo "unknown target $target (kubectl, e2e.test)" >&2; exit 2 ;;
  esac
  # Renamed only once complete: an interrupted build leaves no binary that
  # the stamp check would take for a good one.
  mv "$bin.tmp" "$bin"
  echo "$stamp" > "$bin.stamp"
  echo "Built $bin in $((SECONDS - start))s"
done

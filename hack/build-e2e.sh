#!/usr/bin/env bash
# Builds upstream Kubernetes' e2e.test and kubectl into _output/bin, at the
# release pinned by the wrapper module hack/conformance/ (its own go.mod, so
# the main module never sees k8s.io/kubernetes).
#
#   hack/build-e2e.sh [kubectl] [e2e.test]    (default: both)
#   hack/build-e2e.sh peers                   (kube-apiserver kube-proxy etcd coredns)
#
# The peers are what the bench and test/e2e/dropin_kubeapiserver_test.go compare svcnet
# with: kube-apiserver and kube-proxy of the same release, etcd at the
# version k8s.io/kubernetes requires (kubeadm's), all from the wrapper
# module; CoreDNS by `go install github.com/coredns/coredns@VERSION`, where
# VERSION is kubeadm's CoreDNS of that release ($COREDNS_VERSION overrides).
#
# A cold build takes 10+ minutes on 2 CPUs, so a binary is rebuilt only when
# it is missing or when the wrapper's go.mod/go.sum or the Go toolchain
# changed since it was built (a stamp file beside it records that).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=$root/_output/bin
mkdir -p "$out"

targets=()
for target in "$@"; do
  case $target in
    peers) targets+=(kube-apiserver kube-proxy etcd coredns) ;;
    *) targets+=("$target") ;;
  esac
done
[ ${#targets[@]} -gt 0 ] || targets=(kubectl e2e.test)

cd hack/conformance
# The version comes from go.mod, so that bumping it there is all it takes.
version=$(go list -m -f '{{.Version}}' k8s.io/kubernetes)
minor=$(echo "$version" | cut -d. -f2)
# Without these, both binaries report v0.0.0 (and e2e.test logs a skew).
ldflags="-X k8s.io/component-base/version.gitVersion=$version"
ldflags+=" -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor"
stamp=$( { cat go.mod go.sum; go version; } | sha256sum | cut -d' ' -f1)
# kubeadm's CoreDNS for this release, read from the release's own source.
kubeadm_constants=$(go list -m -f '{{.Dir}}' k8s.io/kubernetes)/cmd/kubeadm/app/constants/constants.go
coredns_version=${COREDNS_VERSION:-$(sed -n 's/^[[:space:]]*CoreDNSVersion = "\(v[0-9.]*\)".*/\1/p' "$kubeadm_constants")}

for target in "${targets[@]}"; do
  bin=$out/$target
  want=$stamp what=$version
  case $target in
    etcd) what=$(go list -m -f '{{.Version}}' go.etcd.io/etcd/server/v3) ;;
    coredns)
      [ -n "$coredns_version" ] || { echo "no CoreDNSVersion in $kubeadm_constants; set COREDNS_VERSION" >&2; exit 2; }
      what=$coredns_version
      want=$(echo "coredns $coredns_version $(go version)" | sha256sum | cut -d' ' -f1) ;;
  esac
  if [ -x "$bin" ] && [ "$(cat "$bin.stamp" 2>/dev/null)" = "$want" ]; then
    echo "$target $what is up to date ($bin)"
    continue
  fi
  echo "Building $target $what (minutes on 2 CPUs when nothing is cached)..."
  start=$SECONDS
  case $target in
    kubectl) go build -ldflags "$ldflags" -o "$bin.tmp" k8s.io/kubernetes/cmd/kubectl ;;
    e2e.test) go test -c -ldflags "$ldflags" -o "$bin.tmp" k8s.io/kubernetes/test/e2e ;;
    kube-apiserver|kube-proxy) go build -ldflags "$ldflags" -o "$bin.tmp" "k8s.io/kubernetes/cmd/$target" ;;
    etcd) go build -o "$bin.tmp" go.etcd.io/etcd/server/v3 ;;
    coredns)
      # go install of a version ignores the current module; it names the
      # binary after the package, so it goes to a directory of its own.
      gobin=$(mktemp -d)
      GOBIN=$gobin go install "github.com/coredns/coredns@$coredns_version"
      mv "$gobin/coredns" "$bin.tmp"
      rmdir "$gobin" ;;
    *) echo "unknown target $target (kubectl, e2e.test, kube-apiserver, kube-proxy, etcd, coredns, peers)" >&2; exit 2 ;;
  esac
  # Renamed only once complete: an interrupted build leaves no binary that
  # the stamp check would take for a good one.
  mv "$bin.tmp" "$bin"
  echo "$want" > "$bin.stamp"
  echo "Built $bin in $((SECONDS - start))s"
done

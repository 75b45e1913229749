#!/usr/bin/env bash
# Runs upstream Kubernetes' e2e suite (e2e.test of the release pinned in
# hack/conformance/go.mod) against a two-node svcnet cluster and reports the
# results: the judge of how compatible svcnet is (docs/conformance.md).
#
#   sudo hack/conformance.sh [--focus=REGEX] [--skip=REGEX] [--proxy-mode=nftables|iptables] [--parallel=N]
#        [--container-runtime=remote|process] [--report-dir=DIR] [-- E2E_ARGS...]
#
# Flags may also come from the environment: CONFORMANCE_FOCUS (default
# '\[sig-network\].*\[Conformance\]'), CONFORMANCE_SKIP, PROXY_MODE
# (nftables), CONFORMANCE_PARALLEL (1), CONFORMANCE_TIMEOUT (Ginkgo's suite
# timeout, 3h), CONTAINER_RUNTIME (remote: each node runs its pods in a
# containerd of its own, pulling the suite's real images, agnhost compiled
# from upstream's source, from a registry on the node's loopback; process:
# svcnet's host-process stand-ins), CONFORMANCE_REPORT_DIR
# (_output/conformance). With --parallel=N, N e2e.test processes run disjoint groups
# of the focused specs at once (listed by a dry run), then the [Serial] ones
# run alone. Arguments after `--` go to every e2e.test unchanged (e.g.
# --ginkgo.v).
#
# The cluster is TestConformance of test/conformance: a LAN namespace with a
# bridge, node1 (172.30.0.1) running `svcnet server` and node2 (172.30.0.2)
# running `svcnet agent`, each node a network namespace of its own. e2e.test
# runs inside node1's namespace, because it connects to ClusterIPs and pod
# IPs that must never be reached from the host's namespace. The test binary
# tears the cluster down (processes, pods, namespaces) however it ends; this
# script forwards SIGINT/SIGTERM to it and waits for that.
#
# Output in _output/conformance/ (or --report-dir): junit*.xml, results.md (spec, result,
# seconds, first line of each failure), e2e*.log, node1.log and node2.log.
# With the default focus and no skip, results.md also becomes
# docs/conformance.md.
set -euo pipefail

# The whole script is one function, parsed before it runs: bash reads a
# script file as it goes, so editing (or git-checking-out) this file during
# an hour-long run would otherwise change what the running copy does next.
main() {
  cd "$(dirname "$0")/.."
  root=$PWD

  default_focus='\[sig-network\].*\[Conformance\]'
  focus=${CONFORMANCE_FOCUS:-$default_focus}
  skip=${CONFORMANCE_SKIP:-}
  proxy_mode=${PROXY_MODE:-nftables}
  timeout=${CONFORMANCE_TIMEOUT:-3h}
  parallel=${CONFORMANCE_PARALLEL:-1}
  runtime=${CONTAINER_RUNTIME:-remote}
  report=${CONFORMANCE_REPORT_DIR:-_output/conformance}
  e2e_args=()
  while [ $# -gt 0 ]; do
    case $1 in
      --focus=*) focus=${1#*=} ;;
      --skip=*) skip=${1#*=} ;;
      --proxy-mode=*) proxy_mode=${1#*=} ;;
      --parallel=*) parallel=${1#*=} ;;
      --container-runtime=*) runtime=${1#*=} ;;
      --report-dir=*) report=${1#*=} ;;
      --) shift; e2e_args=("$@"); break ;;
      *) echo "unknown argument $1 (see the usage at the top of $0)" >&2; exit 2 ;;
    esac
    shift
  done
  case $proxy_mode in
    nftables|iptables) ;;
    *) echo "--proxy-mode must be nftables or iptables, not $proxy_mode" >&2; exit 2 ;;
  esac
  if [ "$(id -u)" != 0 ]; then
    echo "$0 needs root: it creates network namespaces and svcnet writes nftables rules" >&2
    exit 1
  fi

  # Binaries: upstream's (cached across runs), svcnet, and the test binary
  # that brings the cluster up. Compiling the test binary first (rather than
  # `go test`) lets signals reach it directly.
  hack/build-e2e.sh kubectl e2e.test
  go build -o bin/svcnet ./cmd/svcnet
  go test -c -o _output/bin/conformance.test ./test/conformance

  if [ "$runtime" = remote ]; then
    # Outside the namespace: compiling agnhost downloads modules.
    _output/bin/conformance.test -test.run '^TestPrepareImages$' -test.v -test.timeout 0 -prepare-images
  fi

  case $report in
    /*) ;;
    *) report=$root/$report ;;
  esac
  rm -rf "$report"
  mkdir -p "$report"

  start=$SECONDS
  # Background + wait, so that a signal to this script runs the trap at once
  # instead of after the whole run.
  # hack/netns-run.sh gives the test binary itself a fresh namespace too (as
  # `make test` does): only the nodes' namespaces it makes have a network.
  SVCNET_BINARY=$root/bin/svcnet hack/netns-run.sh _output/bin/conformance.test \
    -test.run '^TestConformance$' -test.v -test.timeout 0 \
    -e2e-binary "$root/_output/bin/e2e.test" -kubectl "$root/_output/bin/kubectl" \
    -proxy-mode "$proxy_mode" -container-runtime "$runtime" -report-dir "$report" \
    -focus "$focus" -skip "$skip" -parallel "$parallel" \
    -- --ginkgo.timeout="$timeout" ${e2e_args[@]+"${e2e_args[@]}"} &
  pid=$!
  interrupted=0
  stop() {
    echo "Interrupted: stopping e2e.test and tearing the cluster down..." >&2
    interrupted=1
    kill -TERM "$pid" 2>/dev/null || true
  }
  trap stop INT TERM
  status=0
  # wait returns early (>128) when a trapped signal arrives; wait again until
  # the test binary has really exited and cleaned up.
  while kill -0 "$pid" 2>/dev/null; do
    wait "$pid" && status=0 || status=$?
  done
  trap - INT TERM
  elapsed=$((SECONDS - start))

  if [ ! -s "$report/results.md" ]; then
    echo "No results (exit status $status); see $report/" >&2
    exit 1
  fi
  echo "Results ($elapsed s, exit status $status): $report/results.md"
  upstream=$(cd hack/conformance && go list -m -f '{{.Version}}' k8s.io/kubernetes)
  # Only a complete run of the default focus describes svcnet in the docs.
  if [ "$interrupted" = 0 ] && [ "$focus" = "$default_focus" ] && [ -z "$skip" ] && [ ${#e2e_args[@]} -eq 0 ]; then
    # Hand-written notes below the marker line stay.
    marker='<!-- notes below are kept by hack/conformance.sh -->'
    notes=$(sed -n "\|^$marker\$|,\$p" docs/conformance.md 2>/dev/null || true)
    {
      echo "# Conformance: sig-network"
      echo
      echo "Upstream Kubernetes' e2e suite, \`e2e.test\` of k8s.io/kubernetes $upstream"
      echo "(pinned in \`hack/conformance/go.mod\`), run with \`--ginkgo.focus='$focus'\` by \`make conformance\` against"
      echo "a two-node svcnet cluster (\`svcnet server\` + \`svcnet agent\`, \`--proxy-mode=$proxy_mode\`, \`--container-runtime=$runtime\`) at commit"
      echo "\`$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . ':!docs/conformance.md' || echo '+dirty')\`"
      echo "on $(date -u +%Y-%m-%d), in ${elapsed}s ($parallel e2e.test process(es) at once). Regenerate with"
      echo "\`sudo make conformance\`."
      echo
      cat "$report/results.md"
      if [ -n "$notes" ]; then
        echo
        echo "$notes"
      fi
    } > docs/conformance.md
    echo "Updated docs/conformance.md"
  fi
  exit "$status"
}

main "$@"

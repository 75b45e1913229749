#!/usr/bin/env bash
# The quick conformance subset of `make test`: the API-only sig-network
# [Conformance] specs of upstream's e2e suite plus one data-plane spec, run
# by hack/conformance.sh against its two-node cluster (containerd, real
# images), so CI catches a regression of what `make conformance` judges in
# full. Results in _output/conformance-quick/ (docs/conformance.md is left
# alone).
#
#   hack/conformance-quick.sh [--proxy-mode=nftables|iptables] ...   (as root)
#
# Arguments go to hack/conformance.sh. On a cold machine (CI) most of the
# time is compiling e2e.test (about 12 minutes on 2 CPUs) and agnhost
# (about 3); both are cached in _output/bin and the user's cache dir, and
# the specs themselves take about a minute.
set -euo pipefail
cd "$(dirname "$0")/.."

# Exact spec names, without the "[sig-network] " prefix and the
# " [Conformance]" suffix every one of them has.
specs=(
  'API Server should have Endpoints and EndpointSlices pointing to API Server'
  'API Server should provide secure master service'
  'EndpointSlice should support creating EndpointSlice API operations'
  'Endpoints should test the lifecycle of an Endpoint'
  'Ingress API should support creating Ingress API operations'
  'IngressClass API should support creating IngressClass API operations'
  'ServiceCIDR and IPAddress API should support IPAddress API operations'
  'ServiceCIDR and IPAddress API should support ServiceCIDR API operations'
  'Services should complete a service status lifecycle'
  'Services should delete a collection of services'
  'Services should find a service from listing all namespaces'
  # The data plane: pods, EndpointSlices, the proxy and exec, end to end.
  'Services should serve a basic endpoint from pods'
)

if [ "$(id -u)" != 0 ]; then
  # Not an error: `make test` runs without root too, and everything else
  # in it says what it skipped.
  echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!" >&2
  echo "!!! SKIPPED the quick conformance subset: it needs root (network namespaces," >&2
  echo "!!! nftables, containerd). Run 'sudo make test' or 'sudo hack/conformance-quick.sh'." >&2
  echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!" >&2
  exit 0
fi
runtime=remote
if ! command -v containerd >/dev/null || ! command -v runc >/dev/null; then
  # svcnet's host-process stand-ins still run the subset; CI installs
  # containerd (.ci/run), so this only happens on a developer's machine.
  echo "!!! containerd or runc not installed: the quick conformance subset runs pods with" >&2
  echo "!!! --container-runtime=process instead (apt-get install containerd runc containernetworking-plugins)." >&2
  runtime=process
fi

alternation=$(printf '%s|' "${specs[@]}")
alternation=${alternation%|}
# Ginkgo regexps: escape the characters of the names that are special.
alternation=$(printf '%s' "$alternation" | sed 's/[][().]/\\&/g')
focus="\\[sig-network\\] ($alternation) \\[Conformance\\]"

start=$SECONDS
status=0
hack/conformance.sh --focus="$focus" --container-runtime="$runtime" --report-dir=_output/conformance-quick "$@" || status=$?
summary=$(sed -n 's/^[0-9]* specs: \(.*\)\.$/\1/p' _output/conformance-quick/results.md 2>/dev/null || true)
echo "Quick conformance subset (${#specs[@]} specs, $runtime runtime) took $((SECONDS - start)) s; details in _output/conformance-quick/"
if [ -n "$summary" ]; then
  echo "conformance: $summary"
fi
if [ "$status" = 0 ] && [ "$summary" = "${#specs[@]} passed, 0 failed, 0 skipped" ]; then
  exit 0
fi
echo "Quick conformance subset failed (exit status $status): see _output/conformance-quick/results.md" >&2
exit 1

#!/usr/bin/env bash
# Prints the stock kubectl the scripts drive svcnet with, found the same way
# as the Go tests find it (package test/kubectl): $KUBECTL if set, else
# `kubectl` on PATH, else _output/bin/kubectl built from the pinned upstream
# release by `make kubectl`. No machine-specific install path is assumed.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
if [ -n "${KUBECTL:-}" ]; then
  # An explicit choice that does not work is an error, never a fallback.
  command -v "$KUBECTL" || { echo "KUBECTL=$KUBECTL is not executable" >&2; exit 1; }
elif command -v kubectl; then
  :
elif [ -x "$root/_output/bin/kubectl" ]; then
  echo "$root/_output/bin/kubectl"
else
  echo "no kubectl: set KUBECTL, put kubectl on PATH, or run 'make kubectl'" >&2
  exit 1
fi

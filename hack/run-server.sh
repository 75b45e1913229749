#!/usr/bin/env bash
# Builds and runs `svcnet server` with all its state in _output/data,
# inside the network namespace of hack/dev-netns.sh (needs root), so the
# data plane never touches the host's own network. The API server listens
# on 127.0.0.1:6443 in that namespace; use hack/kubectl.sh to talk to it.
#
# Pods run as containers of a containerd of the namespace's own when
# containerd and runc are installed: test/cmd/devcontainerd builds the images
# the tests and examples/ use (the first time it compiles agnhost: minutes),
# serves them from a registry on the namespace's loopback and runs containerd
# there (state in _output/containerd) until the server exits.
# CONTAINER_RUNTIME=process runs pods as host processes with svcnet's
# built-in stand-in images instead. Arguments go to `svcnet server`.
set -euo pipefail
cd "$(dirname "$0")/.."
go build -o bin/svcnet ./cmd/svcnet
mkdir -p _output/data
ns=$(hack/dev-netns.sh)
server=(bin/svcnet server --data-dir "$PWD/_output/data" --bind-address 127.0.0.1
  --advertise-address 172.30.0.1 --node-name "$(hostname | tr 'A-Z' 'a-z')")

runtime=${CONTAINER_RUNTIME:-}
if [ -z "$runtime" ]; then
  runtime=process
  if command -v containerd >/dev/null && command -v runc >/dev/null && command -v containerd-shim-runc-v2 >/dev/null; then
    runtime=remote
  fi
fi
case $runtime in
  process)
    echo "svcnet runs in network namespace $ns; use: hack/kubectl.sh get svc" >&2
    exec ip netns exec "$ns" "${server[@]}" --container-runtime process "$@"
    ;;
  remote) ;;
  *)
    echo "CONTAINER_RUNTIME=$runtime: want remote or process" >&2
    exit 2
    ;;
esac

# containerd's socket path must fit in a unix socket address (107 bytes):
# a deep checkout keeps containerd's state in /tmp instead.
ctrd_dir=$PWD/_output/containerd
if [ ${#ctrd_dir} -gt 80 ]; then
  ctrd_dir=$(mktemp -d /tmp/svcnet-ctrd.XXXXXX)
fi
flags_file=_output/containerd.flags
rm -f "$flags_file"
go build -o bin/devcontainerd ./test/cmd/devcontainerd
# Its own session: the terminal's ^C is for the server, which stops first;
# devcontainerd then removes the pods' containers and stops containerd.
setsid bin/devcontainerd -netns "$ns" -dir "$ctrd_dir" -flags-file "$flags_file" >/dev/null &
ctrd_pid=$!
server_pid=
stop() {
  if [ -n "$server_pid" ]; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  kill -TERM "$ctrd_pid" 2>/dev/null || true
  wait "$ctrd_pid" 2>/dev/null || true
  [[ $ctrd_dir != /tmp/svcnet-ctrd.* ]] || rm -rf "$ctrd_dir"
}
trap stop EXIT
trap 'exit 130' INT TERM

echo "building the images and starting containerd in $ns (minutes the first time) ..." >&2
until [ -s "$flags_file" ]; do
  kill -0 "$ctrd_pid" 2>/dev/null || { echo "devcontainerd exited" >&2; exit 1; }
  sleep 0.2 # poll interval; devcontainerd bounds its own build and start
done
mapfile -t runtime_flags <"$flags_file"
echo "svcnet runs in network namespace $ns, pods in containerd ($ctrd_dir); use: hack/kubectl.sh get svc" >&2
ip netns exec "$ns" "${server[@]}" "${runtime_flags[@]}" "$@" &
server_pid=$!
wait "$server_pid"

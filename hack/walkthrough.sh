#!/usr/bin/env bash
# Runs docs/walkthrough.md unattended and fails on any deviation from it.
#
# It makes two network namespaces joined by a veth pair, like two machines
# on one LAN: "node" (address 172.30.0.1, runs `svcnet server` with a fresh
# data dir) and "outside" (172.30.0.2, a client machine). Every command of
# the walkthrough runs with stock kubectl and the examples/ manifests, and
# its output is checked. ClusterIPs, pod IPs and LoadBalancer IPs exist only
# inside those namespaces: nothing here sends a packet from the host's own
# network namespace to a non-loopback address. Everything is removed on exit.
#
# Pods run as containers of a containerd of the node's own when containerd
# and runc are installed: test/cmd/devcontainerd builds the images the
# examples name (package test/images, from the machine's own files; the first
# run compiles agnhost, minutes), serves them from a registry on the node's
# loopback and runs containerd in the node's namespace. Otherwise, or with
# SVCNET_CONTAINER_RUNTIME=process, pods are host processes running svcnet's
# built-in stand-ins, which answer some requests differently (nginx answers
# with its pod's name): the checks follow the runtime.
#
#   make build && sudo hack/walkthrough.sh
#
# Environment: SVCNET_BINARY (default bin/svcnet), KUBECTL (default
# kubectl on PATH, else _output/bin/kubectl: hack/find-kubectl.sh),
# SVCNET_CONTAINER_RUNTIME (remote or process; default remote when
# containerd is installed), WALKTHROUGH_KEEP_LOGS=1 keeps the work directory
# (server and containerd logs) after a successful run.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BIN=${SVCNET_BINARY:-$ROOT/bin/svcnet}
KUBECTL_BIN=$(hack/find-kubectl.sh)
NODE_IP=172.30.0.1
OUTSIDE_IP=172.30.0.2
LB_POOL=172.30.0.240/28
START=$SECONDS

# ---------------------------------------------------------------- helpers

# fail reports on the script's own stderr (fd 9), even from a predicate of
# wait_for whose output is discarded.
exec 9>&2
fail() {
  {
    echo
    echo "FAIL: $*"
    if [ -n "${WORK:-}" ] && [ -f "$WORK/server.log" ]; then
      echo "--- last lines of the server log ($WORK/server.log):"
      tail -n 30 "$WORK/server.log"
    fi
    if [ -n "${WORK:-}" ] && [ -f "$WORK/ctrd/containerd.log" ]; then
      echo "--- containerd's log: $WORK/ctrd/containerd.log, devcontainerd's: $WORK/devcontainerd.log"
    fi
  } >&9
  if [ -n "${WORK:-}" ] && [ -f "$WORK/server.log" ]; then
    KEEP_WORK=1
  fi
  exit 1
}

# containerd when it can run here (as svcnet's own default when its socket
# exists), else the process runtime.
RUNTIME=${SVCNET_CONTAINER_RUNTIME:-}
if [ -z "$RUNTIME" ]; then
  RUNTIME=process
  if command -v containerd >/dev/null && command -v runc >/dev/null && command -v containerd-shim-runc-v2 >/dev/null; then
    RUNTIME=remote
  fi
fi
case $RUNTIME in
  remote) tools=(go) ;;
  # Pods run the node's own programs, so curl, nslookup, getent also serve in pods.
  process) tools=(nslookup getent timeout dd) ;;
  *) fail "SVCNET_CONTAINER_RUNTIME=$RUNTIME: want remote or process" ;;
esac
for tool in ip curl dig openssl base64 sed "${tools[@]}" "$KUBECTL_BIN" "$BIN"; do
  command -v "$tool" >/dev/null 2>&1 || fail "missing $tool (build with: make build)"
done
[ "$(id -u)" = 0 ] || fail "needs root (network namespaces, nftables): sudo $0"

suffix=$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
NODE=svcnet-walk-$suffix
OUTSIDE=svcnet-walk-$suffix-out
WORK=$(mktemp -d /tmp/svcnet-walkthrough.XXXXXX)
KEEP_WORK=${WALKTHROUGH_KEEP_LOGS:-}
SERVER_PID=
EXTERNAL_PID=
CTRD_PID=

# stop_gracefully PID SECONDS: SIGTERM, then poll (with a deadline) for the
# process to exit, then SIGKILL.
stop_gracefully() {
  kill -TERM "$1" 2>/dev/null || return 0
  local deadline=$((SECONDS + $2))
  while kill -0 "$1" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.2; done
  kill -KILL "$1" 2>/dev/null || true
}

cleanup() {
  local rc=$?
  [ -z "$EXTERNAL_PID" ] || kill -TERM "$EXTERNAL_PID" 2>/dev/null || true
  [ -z "$SERVER_PID" ] || stop_gracefully "$SERVER_PID" 20
  # devcontainerd removes the pod sandboxes, stops containerd and unmounts
  # what it left (its own deadlines: 15s each).
  [ -z "$CTRD_PID" ] || stop_gracefully "$CTRD_PID" 40
  # Pods outlive the server (as containers outlive a kubelet restart): find
  # their processes by the data-dir files bind-mounted into them, and the
  # containers a containerd that could not stop left behind as the children
  # of its shims, which run in the node's namespace.
  local f pid
  for f in $(grep -lsF "$WORK/data/" /proc/[0-9]*/mountinfo); do
    pid=${f#/proc/}
    kill -KILL "${pid%/mountinfo}" 2>/dev/null || true
  done
  for pid in $(ip netns pids "$NODE" 2>/dev/null); do
    pkill -KILL -P "$pid" 2>/dev/null || true
  done
  ip netns pids "$NODE" 2>/dev/null | xargs -r kill -KILL 2>/dev/null || true
  ip netns del "$NODE" 2>/dev/null || true
  ip netns del "$OUTSIDE" 2>/dev/null || true
  grep -F "$WORK/" /proc/mounts | awk '{print $2}' | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  if [ -z "$KEEP_WORK" ] && [ $rc -eq 0 ]; then
    rm -rf "$WORK"
  else
    echo "work directory kept: $WORK" >&2
  fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Driving kubectl and the machines, showing and checking output, predicates.
. hack/walkthrough-lib.sh

# ------------------------------------------------------------- the machines

section "Setting up: namespaces $NODE (node, $NODE_IP) and $OUTSIDE (outside, $OUTSIDE_IP)"
ip netns add "$NODE"
ip netns add "$OUTSIDE"
ip link add uplink netns "$NODE" type veth peer name eth0 netns "$OUTSIDE"
on_node sh -c "ip link set lo up && ip addr add $NODE_IP/24 dev uplink &&
  ip link set uplink up && ip route add default via 172.30.0.254 dev uplink"
outside sh -c "ip link set lo up && ip addr add $OUTSIDE_IP/24 dev eth0 && ip link set eth0 up"

mkdir -p "$WORK/data"
RUNTIME_FLAGS=(--container-runtime process)
if [ "$RUNTIME" = remote ]; then
  # The program runs in the host's namespace (go build, agnhost's module
  # downloads the first time); its registry socket and containerd belong to
  # the node's.
  go build -o "$WORK/devcontainerd" ./test/cmd/devcontainerd
  "$WORK/devcontainerd" -netns "$NODE" -dir "$WORK/ctrd" -flags-file "$WORK/containerd.flags" \
    >/dev/null 2>"$WORK/devcontainerd.log" &
  CTRD_PID=$!
  echo "devcontainerd pid $CTRD_PID, log $WORK/devcontainerd.log (building images, starting containerd in $NODE)"
  ctrd_up() {
    kill -0 "$CTRD_PID" 2>/dev/null || fail "devcontainerd exited: $(tail -n 20 "$WORK/devcontainerd.log")"
    [ -s "$WORK/containerd.flags" ]
  }
  # 30 minutes: the first run compiles agnhost from upstream's source.
  wait_for 1800 "containerd with the images" ctrd_up
  mapfile -t RUNTIME_FLAGS <"$WORK/containerd.flags"
fi
on_node "$BIN" server --data-dir "$WORK/data" --bind-address 127.0.0.1 --advertise-address "$NODE_IP" \
  --node-name node1 "${RUNTIME_FLAGS[@]}" --loadbalancer-ip-pool "$LB_POOL" >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
echo "svcnet server pid $SERVER_PID, log $WORK/server.log"
server_alive() { kill -0 "$SERVER_PID" 2>/dev/null || fail "svcnet server exited"; }
wait_for 60 "the API server" eval 'server_alive; api_ready'
wait_for 60 "node1 Ready" node_ready
show kubectl get nodes -o wide
expect "node1 +Ready .* $NODE_IP "
[ "$RUNTIME" = process ] || expect ' containerd://[^ ]+$'

# Every manifest of examples/ passes the server's validation as it stands.
show kubectl apply --dry-run=server -f examples/
[ "$(grep -c '(server dry run)$' <<<"$OUT")" -eq "$(cat examples/*.yaml | grep -c '^kind:')" ] ||
  fail "want every object of examples/ accepted by a server-side dry run"

# ---------------------------------------------------------------- the story

section "1. A Deployment of three nginx pods"
show kubectl apply -f examples/01-my-nginx-deployment.yaml
expect '^deployment.apps/my-nginx created$'
wait_for 60 "3 my-nginx pods Ready" ready_pods run=my-nginx 3
show kubectl rollout status deployment/my-nginx --timeout=60s
expect 'successfully rolled out'
show kubectl get pods -l run=my-nginx -o wide
expect '^my-nginx-[a-z0-9]+-[a-z0-9]{5} +1/1 +Running +0 .* 10\.244\.0\.[0-9]+ +node1 '
[ "$(grep -c Running <<<"$OUT")" -eq 3 ] || fail "want 3 Running pods"
POD_IPS=$(kubectl get pods -l run=my-nginx -o jsonpath='{.items[*].status.podIP}')

section "2. kubectl expose: a Service in front of them"
show kubectl expose deployment/my-nginx --dry-run=client -o yaml
expect 'run: my-nginx'
show kubectl expose deployment/my-nginx
expect '^service/my-nginx exposed$'
wait_for 30 "3 endpoints of my-nginx" ready_endpoints my-nginx 3
CLUSTER_IP=$(svc_field my-nginx '{.spec.clusterIP}')
[[ $CLUSTER_IP =~ ^10\.(9[6-9]|10[0-9]|11[01])\.[0-9]+\.[0-9]+$ ]] || fail "ClusterIP $CLUSTER_IP not in 10.96.0.0/12"
show kubectl get svc,ep,endpointslices -o wide
expect "^service/my-nginx +ClusterIP +$CLUSTER_IP +<none> +80/TCP .* run=my-nginx$"
expect "^service/kubernetes +ClusterIP +10\.96\.0\.1 +<none> +443/TCP "
expect "^endpointslice.discovery.k8s.io/my-nginx-[a-z0-9]{5} +IPv4 +80 +"
for ip in $POD_IPS; do expect "^endpoints/my-nginx +.*$ip:80" "endpoints of my-nginx"; done
show kubectl describe svc my-nginx
expect "^IP: +$CLUSTER_IP$"
expect '^Selector: +run=my-nginx$'
expect '^TargetPort: +80/TCP$'
expect '^Session Affinity: +None$'
for ip in $POD_IPS; do expect "^Endpoints: .*$ip:80" "describe Endpoints"; done
show kubectl get endpoints my-nginx -o yaml
expect '^      kind: Pod$'
expect '^    nodeName: node1$'

section "3. Reaching the ClusterIP from a client pod"
show kubectl apply -f examples/03-client-pod.yaml
wait_for 60 "the client pod Ready" ready_pods app=client 1
SEEN=()
wait_for 30 "all three my-nginx pods answering on the ClusterIP" \
  seen_hostnames 3 '^my-nginx-[a-z0-9]+-[a-z0-9]{5}$' nginx_served run=my-nginx curl_client "http://$CLUSTER_IP"
if [ "$RUNTIME" = process ]; then
  for i in 1 2 3 4 5 6; do
    show kubectl exec client -- curl -s "http://$CLUSTER_IP"
    expect '^my-nginx-'
  done
  show kubectl exec client -- curl -s http://my-nginx
  expect '^my-nginx-'
else
  show kubectl exec client -- curl -s "http://$CLUSTER_IP"
  expect "^$WELCOME\$"
  SHOW="kubectl exec client -- sh -c 'for i in 1 2 3 4 5 6; do curl -s -o /dev/null http://$CLUSTER_IP/?six; done'" \
    show in_client sh -c "for i in 1 2 3 4 5 6; do curl -s -o /dev/null http://$CLUSTER_IP/?six; done"
  wait_for 10 "the six requests in the pods' logs" logged 6 'GET /?six ' -l run=my-nginx
  CLIENT_IP=$(kubectl get pod client -o jsonpath='{.status.podIP}')
  SHOW="kubectl logs -l run=my-nginx --prefix --tail=-1 | grep six" \
    show eval "kubectl logs -l run=my-nginx --prefix --tail=-1 | grep six"
  expect "^\\[pod/my-nginx-[a-z0-9]+-[a-z0-9]{5}/my-nginx\\] $CLIENT_IP - - \\[.*\\] \"GET /\\?six HTTP/1\\.1\" 200 "
  SHOW="kubectl exec client -- curl -s http://my-nginx | grep title" \
    show eval "kubectl exec client -- curl -s http://my-nginx | grep title"
  expect "^$WELCOME\$"
fi

section "4. DNS"
show kubectl get svc -n kube-system kube-dns
expect '^kube-dns +ClusterIP +10\.96\.0\.10 +<none> +53/UDP,53/TCP '
show kubectl exec client -- cat /etc/resolv.conf
expect '^nameserver 10\.96\.0\.10$'
expect '^search default\.svc\.cluster\.local svc\.cluster\.local cluster\.local$'
show kubectl exec client -- nslookup my-nginx
expect '^Name:[[:space:]]+my-nginx\.default\.svc\.cluster\.local$'
expect "^Address: $CLUSTER_IP$"
for name in my-nginx my-nginx.default my-nginx.default.svc my-nginx.default.svc.cluster.local; do
  show kubectl exec client -- getent hosts "$name"
  expect "^$CLUSTER_IP +my-nginx\.default\.svc\.cluster\.local$"
done
if [ "$RUNTIME" = process ]; then
  show kubectl exec client -- curl -s http://my-nginx.default.svc.cluster.local
  expect '^my-nginx-'
else
  SHOW="kubectl exec client -- curl -s http://my-nginx.default.svc.cluster.local | grep title" \
    show eval "kubectl exec client -- curl -s http://my-nginx.default.svc.cluster.local | grep title"
  expect "^$WELCOME\$"
fi
show on_node dig +short @10.96.0.10 my-nginx.default.svc.cluster.local
[ "$OUT" = "$CLUSTER_IP" ] || fail "dig answered '$OUT', want $CLUSTER_IP"
show on_node dig +short @10.96.0.10 nothing-here.default.svc.cluster.local
[ -z "$OUT" ] || fail "want no answer for a missing Service"
show on_node dig @10.96.0.10 nothing-here.default.svc.cluster.local +noall +comments
expect 'status: NXDOMAIN'

section "5. Environment variables"
POD=$(kubectl get pods -l run=my-nginx -o jsonpath='{.items[0].metadata.name}')
SHOW="kubectl exec $POD -- printenv | grep SERVICE" show eval "kubectl exec $POD -- printenv | grep SERVICE"
expect '^KUBERNETES_SERVICE_HOST=10\.96\.0\.1$'
expect_not '^MY_NGINX_' "the environment of a pod older than the Service"
show kubectl scale deployment my-nginx --replicas=0
wait_for 60 "no my-nginx pods" no_pods run=my-nginx
show kubectl scale deployment my-nginx --replicas=3
wait_for 60 "3 new my-nginx pods Ready" ready_pods run=my-nginx 3
wait_for 30 "3 endpoints of my-nginx" ready_endpoints my-nginx 3
show kubectl get pods -l run=my-nginx -o wide
POD=$(kubectl get pods -l run=my-nginx -o jsonpath='{.items[0].metadata.name}')
SHOW="kubectl exec $POD -- printenv | grep -E 'SERVICE|MY_NGINX_PORT' | sort" \
  show eval "kubectl exec $POD -- printenv | grep -E 'SERVICE|MY_NGINX_PORT' | sort"
expect "^MY_NGINX_SERVICE_HOST=$CLUSTER_IP$"
expect '^MY_NGINX_SERVICE_PORT=80$'
expect "^MY_NGINX_PORT=tcp://$CLUSTER_IP:80$"
expect "^MY_NGINX_PORT_80_TCP=tcp://$CLUSTER_IP:80$"
expect "^MY_NGINX_PORT_80_TCP_ADDR=$CLUSTER_IP$"
expect '^MY_NGINX_PORT_80_TCP_PORT=80$'
expect '^MY_NGINX_PORT_80_TCP_PROTO=tcp$'
expect '^KUBERNETES_SERVICE_PORT_HTTPS=443$'
[ "$(svc_field my-nginx '{.spec.clusterIP}')" = "$CLUSTER_IP" ] || fail "the ClusterIP changed"

section "6. NodePort: from outside the cluster"
show kubectl apply -f examples/04-hello-nodeport.yaml
wait_for 60 "2 endpoints of hello-svc" ready_endpoints hello-svc 2
show kubectl get svc hello-svc
expect '^hello-svc +NodePort +10\.[0-9.]+ +<none> +8080:30001/TCP '
show kubectl describe svc hello-svc
expect '^NodePort: +<unset> +30001/TCP$'
expect '^Labels: +app=hello-world$'
show kubectl get nodes -o jsonpath='{.items[0].status.addresses}'
expect "\"address\":\"$NODE_IP\",\"type\":\"InternalIP\""
SEEN=()
wait_for 30 "both hello-deploy pods through the NodePort" \
  seen_hostnames 2 '^hello-deploy-' outside curl -sS -m 2 "http://$NODE_IP:30001"
show outside curl -s "http://$NODE_IP:30001"
expect '^hello-deploy-[a-z0-9]+-[a-z0-9]{5}$'
HELLO_IP=$(svc_field hello-svc '{.spec.clusterIP}')
show kubectl exec client -- curl -s "http://hello-svc:8080"
expect '^hello-deploy-'

section "7. Several ports, named ports"
show kubectl apply -f examples/05-multi-port.yaml
wait_for 60 "2 endpoints of http-whoami-srv" ready_endpoints http-whoami-srv 2
show kubectl get svc http-whoami-srv
expect '^http-whoami-srv +NodePort +10\.[0-9.]+ +<none> +80:3[0-9]{4}/TCP,443:30443/TCP '
show kubectl describe svc http-whoami-srv
expect '^Port: +http +80/TCP$'
expect '^TargetPort: +http/TCP$'
expect '^Port: +https +443/TCP$'
expect '^TargetPort: +https/TCP$'
expect '^Endpoints: +10\.244\.0\.[0-9]+:8443,10\.244\.0\.[0-9]+:8443$'
show kubectl get endpointslices -l kubernetes.io/service-name=http-whoami-srv
expect '^http-whoami-srv-[a-z0-9]{5} +IPv4 +(8080,8443|8443,8080) +'
# Endpoints in the API may run ahead of the proxy's rate-limited syncs.
SEEN=()
wait_for 30 "both http-whoami pods answering on port 80" \
  seen_hostnames 2 '^http-whoami-' curl_client http://http-whoami-srv
wait_for 30 "http-whoami answering on port 443" all_answers 1 '^http-whoami-' curl_client http://http-whoami-srv:443
show kubectl exec client -- curl -s http://http-whoami-srv
expect '^http-whoami-'
show kubectl exec client -- curl -s http://http-whoami-srv:443
expect '^http-whoami-'
show on_node dig +short @10.96.0.10 SRV _https._tcp.http-whoami-srv.default.svc.cluster.local
[ "$OUT" = "0 100 443 http-whoami-srv.default.svc.cluster.local." ] || fail "SRV answer '$OUT'"
show on_node dig +short @10.96.0.10 SRV _http._tcp.http-whoami-srv.default.svc.cluster.local
[ "$OUT" = "0 100 80 http-whoami-srv.default.svc.cluster.local." ] || fail "SRV answer '$OUT'"
show outside curl -s "http://$NODE_IP:30443"
expect '^http-whoami-'

section "8. Blue/green by changing the selector"
show kubectl apply -f examples/06-blue-green.yaml
wait_for 60 "4 endpoints of biz1" ready_endpoints biz1 4
SEEN=()
wait_for 30 "both versions answering" seen_hostnames 4 '^biz1-v4-[12]-' curl_client http://biz1
show kubectl get pods -l app=biz1 -L version
expect '^biz1-v4-1-.* 4\.1$'
expect '^biz1-v4-2-.* 4\.2$'
SHOW="kubectl exec client -- sh -c 'for i in 1 2 3 4 5 6 7 8; do curl -s http://biz1; echo; done' | sort | uniq -c" \
  show eval "kubectl exec client -- sh -c 'for i in 1 2 3 4 5 6 7 8; do curl -s http://biz1; echo; done' | sed 's/-[a-z0-9]*-[a-z0-9]*\$//' | sort | uniq -c"
SHOW="kubectl patch svc biz1 -p '{\"spec\":{\"selector\":{\"version\":\"4.2\"}}}'" \
  show kubectl patch svc biz1 -p '{"spec":{"selector":{"version":"4.2"}}}'
expect '^service/biz1 patched$'
wait_for 30 "2 endpoints of biz1" ready_endpoints biz1 2
show kubectl describe svc biz1
expect '^Selector: +app=biz1,version=4\.2,zone=prod$'
wait_for 30 "only version 4.2 answering" all_answers 10 '^biz1-v4-2-' curl_client http://biz1
SHOW="kubectl exec client -- sh -c 'for i in 1 2 3 4 5 6 7 8; do curl -s http://biz1; echo; done' | sort | uniq -c" \
  show eval "kubectl exec client -- sh -c 'for i in 1 2 3 4 5 6 7 8; do curl -s http://biz1; echo; done' | sed 's/-[a-z0-9]*-[a-z0-9]*\$//' | sort | uniq -c"
expect '^ +8 biz1-v4-2$'
SHOW="kubectl patch svc biz1 -p '{\"spec\":{\"selector\":{\"version\":\"4.1\"}}}'" \
  show kubectl patch svc biz1 -p '{"spec":{"selector":{"version":"4.1"}}}'
wait_for 30 "only version 4.1 answering" all_answers 10 '^biz1-v4-1-' curl_client http://biz1
show kubectl get endpoints biz1
V41_IPS=$(kubectl get pods -l version=4.1 -o jsonpath='{.items[*].status.podIP}')
for ip in $V41_IPS; do expect "$ip:8080" "endpoints of biz1"; done
show kubectl exec client -- curl -s http://biz1
expect '^biz1-v4-1-'

section "9. Session affinity"
show kubectl apply -f examples/07-session-affinity.yaml
wait_for 30 "3 endpoints of my-nginx-sticky" ready_endpoints my-nginx-sticky 3
show kubectl describe svc my-nginx-sticky
expect '^Session Affinity: +ClientIP$'
wait_for 30 "my-nginx-sticky answering" curl_client http://my-nginx-sticky
if [ "$RUNTIME" = process ]; then
  SHOW="kubectl exec client -- sh -c 'for i in 1 2 3 4 5 6 7 8 9 10; do curl -s http://my-nginx-sticky; echo; done' | sort | uniq -c" \
    show eval "kubectl exec client -- sh -c 'for i in 1 2 3 4 5 6 7 8 9 10; do curl -s http://my-nginx-sticky; echo; done' | sort | uniq -c"
  [ "$(wc -l <<<"$OUT")" -eq 1 ] || fail "want one backend for all requests"
  expect '^ +10 my-nginx-'
  SHOW="kubectl exec client -- sh -c 'for i in \$(seq 30); do curl -s http://my-nginx; echo; done' | sort | uniq -c" \
    show eval "kubectl exec client -- sh -c 'for i in \$(seq 30); do curl -s http://my-nginx; echo; done' | sort | uniq -c"
  [ "$(wc -l <<<"$OUT")" -gt 1 ] || fail "want my-nginx (no affinity) to spread 30 requests"
else
  # nginx answers the same page from every pod: its access log says which
  # pod served each request.
  SHOW="kubectl exec client -- sh -c 'for i in \$(seq 10); do curl -s -o /dev/null http://my-nginx-sticky/?sticky; done'" \
    show in_client sh -c 'for i in $(seq 10); do curl -s -o /dev/null http://my-nginx-sticky/?sticky; done'
  wait_for 10 "the ten requests in the pods' logs" logged 10 'GET /?sticky ' -l run=my-nginx
  SHOW="kubectl logs -l run=my-nginx --prefix --tail=-1 | grep sticky | cut -d' ' -f1 | sort | uniq -c" \
    show eval "kubectl logs -l run=my-nginx --prefix --tail=-1 | grep sticky | cut -d' ' -f1 | sort | uniq -c"
  [ "$(wc -l <<<"$OUT")" -eq 1 ] || fail "want one backend for all requests"
  expect '^ +10 \[pod/my-nginx-'
  SHOW="kubectl exec client -- sh -c 'for i in \$(seq 30); do curl -s -o /dev/null http://my-nginx/?spread; done'" \
    show in_client sh -c 'for i in $(seq 30); do curl -s -o /dev/null http://my-nginx/?spread; done'
  wait_for 10 "the thirty requests in the pods' logs" logged 30 'GET /?spread ' -l run=my-nginx
  SHOW="kubectl logs -l run=my-nginx --prefix --tail=-1 | grep spread | cut -d' ' -f1 | sort | uniq -c" \
    show eval "kubectl logs -l run=my-nginx --prefix --tail=-1 | grep spread | cut -d' ' -f1 | sort | uniq -c"
  [ "$(wc -l <<<"$OUT")" -gt 1 ] || fail "want my-nginx (no affinity) to spread 30 requests"
fi

section "10. Headless Service and StatefulSet"
show kubectl apply -f examples/08-headless-statefulset.yaml
wait_for 60 "web-0 and web-1 Ready" ready_pods app=nginx 2
wait_for 30 "2 endpoints of nginx" ready_endpoints nginx 2
show kubectl get svc nginx
expect '^nginx +ClusterIP +None +<none> +80/TCP '
show kubectl get pods -l app=nginx -o wide
WEB0_IP=$(kubectl get pod web-0 -o jsonpath='{.status.podIP}')
WEB1_IP=$(kubectl get pod web-1 -o jsonpath='{.status.podIP}')
show on_node dig +short @10.96.0.10 nginx.default.svc.cluster.local
[ "$(sort <<<"$OUT")" = "$(printf '%s\n' "$WEB0_IP" "$WEB1_IP" | sort)" ] || fail "want the pods' IPs $WEB0_IP $WEB1_IP"
show kubectl exec client -- getent hosts web-0.nginx
expect "^$WEB0_IP +web-0\.nginx\.default\.svc\.cluster\.local$"
show kubectl exec client -- nslookup web-1.nginx
expect "^Address: $WEB1_IP$"
show on_node dig +short @10.96.0.10 SRV _web._tcp.nginx.default.svc.cluster.local
expect '^0 50 80 web-0\.nginx\.default\.svc\.cluster\.local\.$'
expect '^0 50 80 web-1\.nginx\.default\.svc\.cluster\.local\.$'
if [ "$RUNTIME" = process ]; then
  show kubectl exec client -- curl -s http://web-0.nginx
  [ "$OUT" = web-0 ] || fail "want web-0"
  show kubectl exec client -- curl -s http://web-1.nginx.default.svc.cluster.local
  [ "$OUT" = web-1 ] || fail "want web-1"
else
  served_by() { WHY=$(nginx_served app=nginx curl_client "$2") && [ "$WHY" = "$1" ]; }
  wait_for 10 "web-0.nginx served by web-0" served_by web-0 http://web-0.nginx
  wait_for 10 "web-1.nginx.default.svc.cluster.local served by web-1" served_by web-1 http://web-1.nginx.default.svc.cluster.local
  SHOW="kubectl exec client -- curl -s -o /dev/null -w '%{http_code} %{remote_ip}\n' http://web-0.nginx/?to-web-0" \
    show kubectl exec client -- curl -s -o /dev/null -w '%{http_code} %{remote_ip}\n' http://web-0.nginx/?to-web-0
  expect "^200 $WEB0_IP\$"
  wait_for 10 "the request in web-0's log" logged 1 'GET /?to-web-0 ' web-0
  SHOW="kubectl logs web-0 | grep to-web-0" show eval "kubectl logs web-0 | grep to-web-0"
  expect "^$CLIENT_IP - - .*\"GET /\\?to-web-0 HTTP/1\\.1\" 200 "
fi
show kubectl delete pod web-0
wait_for 60 "web-0 back and Ready" ready_pods app=nginx 2
wait_for 30 "2 endpoints of nginx" ready_endpoints nginx 2
show kubectl get pods -l app=nginx -o wide
NEW_WEB0_IP=$(kubectl get pod web-0 -o jsonpath='{.status.podIP}')
# The new web-0 keeps its name; DNS follows it to its (possibly new) IP.
web0_resolves() { WHY=$(in_client getent hosts web-0.nginx 2>&1) && [[ $WHY =~ ^$NEW_WEB0_IP\  ]]; }
wait_for 30 "web-0.nginx resolving to $NEW_WEB0_IP" web0_resolves
show kubectl exec client -- getent hosts web-0.nginx
expect "^$NEW_WEB0_IP +web-0\.nginx\.default\.svc\.cluster\.local$"

section "11. A Service without a selector: an external server"
on_node "$BIN" agnhost netexec --http-port=9090 --udp-port=-1 >"$WORK/external.log" 2>&1 &
EXTERNAL_PID=$!
printf '\nnode$ svcnet agnhost netexec --http-port=9090 --udp-port=-1 &\n'
on_port_9090() { WHY=$(on_node curl -sS -m 2 "http://$NODE_IP:9090/echo?msg=up" 2>&1) && [ "$WHY" = up ]; }
wait_for 30 "the external server on $NODE_IP:9090" on_port_9090
show kubectl apply -f examples/09-external-service.yaml
expect '^service/external-http-service created$'
expect '^endpoints/external-http-service created$'
wait_for 30 "the mirrored EndpointSlice" ready_endpoints external-http-service 1
show kubectl get svc,endpoints external-http-service
expect "^endpoints/external-http-service +$NODE_IP:9090 "
show kubectl get endpointslices -l kubernetes.io/service-name=external-http-service
expect "^external-http-service-[a-z0-9]{5} +IPv4 +9090 +$NODE_IP "
show kubectl get endpointslices -l kubernetes.io/service-name=external-http-service -o jsonpath='{.items[0].metadata.labels}'
expect '"endpointslice.kubernetes.io/managed-by":"endpointslicemirroring-controller.k8s.io"'
show kubectl describe svc external-http-service
expect '^Selector: +<none>$'
expect "^Endpoints: +$NODE_IP:9090$"
wait_for 30 "the external server through the Service" all_answers 1 '^hello$' curl_client 'http://external-http-service/echo?msg=hello'
show kubectl exec client -- curl -s 'http://external-http-service/echo?msg=hello'
[ "$OUT" = hello ] || fail "want hello"

section "12. LoadBalancer"
show kubectl apply -f examples/10-loadbalancer.yaml
lb_ip() {
  LB_IP=$(svc_field my-nginx-lb '{.status.loadBalancer.ingress[0].ip}' 2>&1)
  WHY="ingress IP '$LB_IP'"
  [[ $LB_IP =~ ^172\.30\.0\.2(4[0-9]|5[0-5])$ ]]
}
wait_for 30 "an EXTERNAL-IP from $LB_POOL" lb_ip
wait_for 30 "3 endpoints of my-nginx-lb" ready_endpoints my-nginx-lb 3
show kubectl get svc my-nginx-lb
expect "^my-nginx-lb +LoadBalancer +10\.[0-9.]+ +$LB_IP +80:3[0-9]{4}/TCP "
show kubectl describe svc my-nginx-lb
expect "^LoadBalancer Ingress: +$LB_IP"
# The pool lies in the LAN's subnet: the node answers ARP for the LB IP
# (as MetalLB's layer-2 mode), so the outside machine needs no route.
SEEN=()
wait_for 30 "my-nginx pods through the LoadBalancer IP" \
  seen_hostnames 2 '^my-nginx-' nginx_served run=my-nginx outside curl -sS -m 2 "http://$LB_IP"
if [ "$RUNTIME" = process ]; then
  show outside curl -s "http://$LB_IP"
  expect '^my-nginx-'
else
  SHOW="curl -s http://$LB_IP | grep title" PROMPT=outside\$ show eval "outside curl -s http://$LB_IP | grep title"
  expect "^$WELCOME\$"
fi

section "13. UDP"
show kubectl apply -f examples/11-udp.yaml
wait_for 60 "2 endpoints of udp-echo" ready_endpoints udp-echo 2
show kubectl get svc udp-echo
expect '^udp-echo +ClusterIP +10\.[0-9.]+ +<none> +5353/UDP '
SEEN=()
wait_for 30 "both udp-echo pods answering over UDP" seen_hostnames 2 '^udp-echo-' udp_hostname udp-echo 5353
SHOW="kubectl exec client -- bash -c 'exec 3<>/dev/udp/udp-echo/5353; printf hostname >&3; dd bs=512 count=1 status=none <&3'" \
  show udp_hostname udp-echo 5353
expect '^udp-echo-[a-z0-9]+-[a-z0-9]{5}$'

section "14. Scaling and self-healing"
show kubectl scale deployment my-nginx --replicas=5
expect '^deployment.apps/my-nginx scaled$'
wait_for 60 "5 my-nginx pods Ready" ready_pods run=my-nginx 5
wait_for 30 "5 endpoints of my-nginx" ready_endpoints my-nginx 5
show kubectl get deployment my-nginx
expect '^my-nginx +5/5 +5 +5 '
VICTIM=$(kubectl get pods -l run=my-nginx -o jsonpath='{.items[0].metadata.name}')
show kubectl delete pod "$VICTIM"
expect "^pod \"$VICTIM\" deleted"
wait_for 60 "5 my-nginx pods Ready again" ready_pods run=my-nginx 5
victim_gone() {
  WHY=$(kubectl get endpointslices -l kubernetes.io/service-name=my-nginx \
    -o jsonpath='{range .items[*].endpoints[*]}{.targetRef.name}{" "}{end}')
  ! grep -qw -- "$VICTIM" <<<"$WHY"
}
wait_for 30 "$VICTIM out of the EndpointSlice" victim_gone
wait_for 30 "5 endpoints of my-nginx" ready_endpoints my-nginx 5
show kubectl get pods -l run=my-nginx
expect_not "^$VICTIM " "pods after the delete"
[ "$(grep -c Running <<<"$OUT")" -eq 5 ] || fail "want 5 Running pods"
show kubectl get endpointslices -l kubernetes.io/service-name=my-nginx
[ "$(svc_field my-nginx '{.spec.clusterIP}')" = "$CLUSTER_IP" ] || fail "the ClusterIP changed"
SEEN=()
# 90s: a replacement pod that reuses its predecessor's IP is unreachable
# until the node's neighbour (ARP) entry for the old MAC expires.
wait_for 90 "all five pods answering on the unchanged ClusterIP" \
  seen_hostnames 5 '^my-nginx-' nginx_served run=my-nginx curl_client "http://$CLUSTER_IP"
show kubectl scale deployment my-nginx --replicas=2
wait_for 60 "2 my-nginx pods" ready_pods run=my-nginx 2
wait_for 30 "2 endpoints of my-nginx" ready_endpoints my-nginx 2
show kubectl get endpoints my-nginx
[ "$(tr ',' '\n' <<<"$OUT" | grep -c ':80')" -eq 2 ] || fail "want 2 addresses"

section "15. Securing the Service: a TLS Secret and a ConfigMap mounted into an HTTPS nginx"
# openssl's key-generation progress goes to stderr; the key pair to $WORK.
gen_keys() {
  openssl req -x509 -nodes -days 365 -newkey rsa:2048 -keyout "$WORK/nginx.key" -out "$WORK/nginx.crt" \
    -subj "/CN=my-nginx/O=my-nginx" 2>/dev/null
}
SHOW='openssl req -x509 -nodes -days 365 -newkey rsa:2048 -keyout /tmp/nginx.key -out /tmp/nginx.crt -subj "/CN=my-nginx/O=my-nginx"' \
  show gen_keys
SHOW="kubectl create secret tls nginxsecret --key /tmp/nginx.key --cert /tmp/nginx.crt" \
  show kubectl create secret tls nginxsecret --key "$WORK/nginx.key" --cert "$WORK/nginx.crt"
expect '^secret/nginxsecret created$'
show kubectl get secrets
expect '^NAME +TYPE +DATA +AGE$'
expect '^nginxsecret +kubernetes\.io/tls +2 +'
show kubectl create configmap nginxconfigmap --from-file=examples/secure/default.conf
expect '^configmap/nginxconfigmap created$'
show kubectl get configmaps
expect '^NAME +DATA +AGE$'
expect '^nginxconfigmap +1 +'
show kubectl describe configmap nginxconfigmap
expect '^Data$'
expect '^default\.conf:$'
expect '^        ssl_certificate /etc/nginx/ssl/tls\.crt;$'
expect '^BinaryData$'
# The same Secret as YAML with base64 data, applied over the created one.
cat >"$WORK/nginxsecrets.yaml" <<YAML
apiVersion: "v1"
kind: "Secret"
metadata:
  name: "nginxsecret"
  namespace: "default"
type: kubernetes.io/tls
data:
  tls.crt: "$(base64 -w0 <"$WORK/nginx.crt")"
  tls.key: "$(base64 -w0 <"$WORK/nginx.key")"
YAML
SHOW="kubectl apply -f nginxsecrets.yaml" show kubectl apply -f "$WORK/nginxsecrets.yaml"
expect '^secret/nginxsecret (configured|unchanged)$'
show kubectl get secrets
expect '^nginxsecret +kubernetes\.io/tls +2 +'
SHOW="kubectl delete deployments,svc my-nginx; kubectl create -f examples/12-nginx-secure-app.yaml" \
  show eval "kubectl delete deployments,svc my-nginx && kubectl create -f examples/12-nginx-secure-app.yaml"
# kubectl 1.35+ also names the namespace it deleted from.
expect '^deployment.apps "my-nginx" deleted( from default namespace)?$'
expect '^service/my-nginx created$'
expect '^deployment.apps/my-nginx created$'
wait_for 90 "the nginxhttps pod Ready" ready_pods run=my-nginx 1
show kubectl get pods -l run=my-nginx -o custom-columns=POD_IP:.status.podIPs
expect '^\[map\[ip:10\.244\.0\.[0-9]+\]\]$'
NGINX_IP=$(kubectl get pods -l run=my-nginx -o jsonpath='{.items[0].status.podIP}')
https_pod() { WHY=$(on_node curl -sk -m 2 "https://$NGINX_IP" 2>&1) && grep -q 'Welcome to nginx' <<<"$WHY"; }
wait_for 30 "HTTPS on the pod's IP" https_pod
show on_node curl -sk "https://$NGINX_IP"
expect '^<h1>Welcome to nginx!</h1>$'
show kubectl apply -f examples/13-curlpod.yaml
expect '^deployment.apps/curl-deployment created$'
wait_for 60 "the curl pod Ready" ready_pods app=curlpod 1
wait_for 30 "1 endpoint of my-nginx" ready_endpoints my-nginx 1
show kubectl get pods -l app=curlpod
expect '^curl-deployment-[a-z0-9]+-[a-z0-9]{5} +1/1 +Running +0 '
CURLPOD=$(kubectl get pods -l app=curlpod -o jsonpath='{.items[0].metadata.name}')
show kubectl exec "$CURLPOD" -- ls -l /etc/nginx/ssl
expect 'tls\.crt -> \.\.data/tls\.crt$'
expect 'tls\.key -> \.\.data/tls\.key$'
https_svc() {
  WHY=$(kubectl exec "$CURLPOD" -- curl -sS -m 2 https://my-nginx --cacert /etc/nginx/ssl/tls.crt 2>&1) &&
    grep -q 'Welcome to nginx' <<<"$WHY"
}
wait_for 30 "https://my-nginx verified with the Secret's certificate" https_svc
show kubectl exec "$CURLPOD" -- curl -s https://my-nginx --cacert /etc/nginx/ssl/tls.crt
expect '^<title>Welcome to nginx!</title>$'
SHOW="kubectl get svc my-nginx -o yaml | grep nodePort -C 5" show eval "kubectl get svc my-nginx -o yaml | grep nodePort -C 5"
expect '^  - name: https$'
HTTPS_NODEPORT=$(svc_field my-nginx '{.spec.ports[?(@.name=="https")].nodePort}')
https_nodeport() { WHY=$(outside curl -sk -m 2 "https://$NODE_IP:$HTTPS_NODEPORT" 2>&1) && grep -q 'Welcome to nginx' <<<"$WHY"; }
wait_for 30 "HTTPS through the NodePort from outside" https_nodeport
show outside curl -sk "https://$NODE_IP:$HTTPS_NODEPORT"
expect '^<h1>Welcome to nginx!</h1>$'
# kubectl edit, with sed as the editor: type: NodePort -> type: LoadBalancer.
edit_to_lb() { KUBE_EDITOR='sed -i s/type:.NodePort/type:\ LoadBalancer/' kubectl edit svc my-nginx; }
SHOW="kubectl edit svc my-nginx     # type: NodePort -> type: LoadBalancer" show edit_to_lb
expect '^service/my-nginx edited$'
secure_lb_ip() {
  SECURE_LB_IP=$(svc_field my-nginx '{.status.loadBalancer.ingress[0].ip}' 2>&1)
  WHY="ingress IP '$SECURE_LB_IP'"
  [[ $SECURE_LB_IP =~ ^172\.30\.0\.2(4[0-9]|5[0-5])$ ]]
}
wait_for 30 "an EXTERNAL-IP for my-nginx" secure_lb_ip
show kubectl get svc my-nginx
expect "^my-nginx +LoadBalancer +10\.[0-9.]+ +$SECURE_LB_IP +8080:3[0-9]{4}/TCP,443:$HTTPS_NODEPORT/TCP "
https_lb() { WHY=$(outside curl -sk -m 2 "https://$SECURE_LB_IP" 2>&1) && grep -q 'Welcome to nginx' <<<"$WHY"; }
wait_for 30 "HTTPS on the LoadBalancer IP from outside" https_lb
show outside curl -sk "https://$SECURE_LB_IP"
expect '^<title>Welcome to nginx!</title>$'

section "16. Cleaning up"
show kubectl delete -f examples/ --ignore-not-found
expect '^service "my-nginx" deleted'
expect '^statefulset.apps "web" deleted'
show kubectl delete secret nginxsecret
expect '^secret "nginxsecret" deleted( from default namespace)?$'
show kubectl delete configmap nginxconfigmap
expect '^configmap "nginxconfigmap" deleted( from default namespace)?$'
gone() { WHY=$(kubectl get pods,svc -o name 2>&1) && [ "$WHY" = service/kubernetes ]; }
wait_for 90 "only service/kubernetes left" gone
show kubectl get all
expect '^service/kubernetes '

printf '\nPASS: the walkthrough ran as written in %ds\n' $((SECONDS - START))

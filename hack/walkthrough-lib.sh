# Helpers of hack/walkthrough.sh, sourced by it: kubectl and the two
# machines, showing commands as docs/walkthrough.md does, checking their
# output, and the predicates its waits poll. They use the script's NODE,
# OUTSIDE, WORK, KUBECTL_BIN and RUNTIME, and its fail.
# shellcheck shell=bash

# kubectl runs stock kubectl on the node (the API listens on its loopback).
kubectl() {
  ip netns exec "$NODE" "$KUBECTL_BIN" --kubeconfig "$WORK/data/kubeconfig.yaml" \
    --cache-dir "$WORK/kubectl-cache" "$@"
}
# on_node runs a command in the node's network namespace (a shell on the node).
on_node() { ip netns exec "$NODE" "$@"; }
# outside runs a command on the other machine of the LAN.
outside() { ip netns exec "$OUTSIDE" "$@"; }

section() { printf '\n=== %s\n' "$*"; }

# show prints a command as the walkthrough shows it (prompt "$" for kubectl,
# "node$"/"outside$" for the two machines; PROMPT and SHOW override), runs it
# and prints its output; OUT keeps the output for the checks that follow.
show() {
  local prompt=${PROMPT:-\$} text=${SHOW:-}
  if [ -z "$text" ]; then
    case $1 in
      on_node) prompt=node\$; text=${*:2} ;;
      outside) prompt=outside\$; text=${*:2} ;;
      *) text=$* ;;
    esac
  fi
  printf '\n%s %s\n' "$prompt" "$text"
  local rc=0
  OUT=$("$@" 2>&1) || rc=$?
  [ -z "$OUT" ] || printf '%s\n' "$OUT"
  [ $rc -eq 0 ] || fail "exit status $rc from: $text"
}

# expect checks that OUT matches an extended regular expression.
expect() {
  grep -Eq -- "$1" <<<"$OUT" || fail "${2:-output} does not match /$1/; got:
$OUT"
}
# expect_not checks that OUT does not match.
expect_not() {
  ! grep -Eq -- "$1" <<<"$OUT" || fail "${2:-output} unexpectedly matches /$1/; got:
$OUT"
}

# wait_for SECONDS WHAT PREDICATE [ARGS...] polls PREDICATE until it succeeds
# or the deadline passes. A predicate sets WHY to say what it saw.
wait_for() {
  local timeout=$1 what=$2
  shift 2
  local deadline=$((SECONDS + timeout))
  WHY=
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || fail "timed out after ${timeout}s waiting for $what: ${WHY:-}"
    sleep 0.2 # poll interval
  done
}

api_ready() { WHY=$(kubectl get --raw /readyz 2>&1) && [ "$WHY" = ok ]; }

node_ready() {
  WHY=$(kubectl get node node1 -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>&1) &&
    [ "$WHY" = True ]
}

# ready_endpoints SERVICE N: the Service's EndpointSlices list exactly N
# ready endpoints.
ready_endpoints() {
  local got
  got=$(kubectl get endpointslices -l "kubernetes.io/service-name=$1" \
    -o jsonpath='{range .items[*].endpoints[?(@.conditions.ready==true)]}{.addresses[0]}{" "}{end}' 2>&1) || {
    WHY=$got
    return 1
  }
  WHY="ready endpoints of $1: [$got], want $2"
  [ "$(wc -w <<<"$got")" -eq "$2" ]
}

# ready_pods SELECTOR N: exactly N pods match and all are Ready.
ready_pods() {
  local got
  got=$(kubectl get pods -l "$1" -o jsonpath='{range .items[*]}{.metadata.name}={.status.conditions[?(@.type=="Ready")].status}{" "}{end}' 2>&1) || {
    WHY=$got
    return 1
  }
  WHY="pods $1: [$got], want $2 Ready"
  [ "$(wc -w <<<"$got")" -eq "$2" ] && ! grep -qv '=True$' < <(tr ' ' '\n' <<<"$got" | sed '/^$/d')
}

no_pods() {
  WHY=$(kubectl get pods -l "$1" -o name 2>&1) && [ -z "$WHY" ]
}

# seen_hostnames N REGEX CMD...: one request per call; succeeds once N
# different answers have been seen, all matching REGEX. Reset SEEN first.
declare -A SEEN
seen_hostnames() {
  local n=$1 re=$2 got
  shift 2
  got=$("$@" 2>&1) || {
    WHY="request failed: $got"
    return 1
  }
  got=$(tr -d '\r\n' <<<"$got")
  [[ $got =~ $re ]] || fail "answer '$got' does not match /$re/ (from: $*)"
  SEEN[$got]=1
  WHY="seen [${!SEEN[*]}], want $n different answers"
  [ ${#SEEN[@]} -ge "$n" ]
}

# all_answers N REGEX CMD...: N requests in a row all answer matching REGEX.
all_answers() {
  local n=$1 re=$2 got i
  shift 2
  for ((i = 0; i < n; i++)); do
    got=$("$@" 2>&1) || {
      WHY="request failed: $got"
      return 1
    }
    [[ $got =~ $re ]] || {
      WHY="answer $((i + 1)) was '$got', want /$re/"
      return 1
    }
  done
}

# in_client runs a command in the client pod.
in_client() { kubectl exec client -- "$@"; }
curl_client() { in_client curl -sS -m 2 "$@"; }
udp_hostname() {
  in_client timeout 3 bash -c "exec 3<>/dev/udp/$1/$2 && printf hostname >&3 && dd bs=512 count=1 status=none <&3"
}

svc_field() { kubectl get svc "$1" -o jsonpath="$2"; }

# nginx_served SELECTOR CMD... URL: the name of the pod of SELECTOR that
# served one request (CMD URL). The process runtime's stand-in answers with
# its pod's name; a real nginx answers its welcome page and logs the request
# to its pod's log, where a query of this request's own finds it.
WELCOME='<title>Welcome to nginx!</title>'
nginx_served() {
  local sel=$1 url=${!#} got line deadline tag
  local cmd=("${@:2:$#-2}")
  if [ "$RUNTIME" = process ]; then
    got=$("${cmd[@]}" "$url" 2>&1) || { echo "request failed: $got"; return 1; }
    printf '%s\n' "$got"
    return
  fi
  # Unique even when called in a subshell (as seen_hostnames does).
  tag=walk$(tr -d - </proc/sys/kernel/random/uuid)
  got=$("${cmd[@]}" "$url/?$tag" 2>&1) || { echo "request failed: $got"; return 1; }
  grep -qF "$WELCOME" <<<"$got" || { echo "not nginx's welcome page: $got"; return 1; }
  # The log line follows the answer: poll for it.
  deadline=$((SECONDS + 10))
  until line=$({ kubectl logs -l "$sel" --prefix --tail=-1 --max-log-requests=10 2>/dev/null || true; } |
    grep -F "\"GET /?$tag HTTP/1.1\""); do
    [ $SECONDS -lt $deadline ] || { echo "no pod of $sel logged the request"; return 1; }
    sleep 0.2
  done
  sed -E 's#^\[pod/([^/]+)/.*#\1#' <<<"$line"
}

# logged N PATTERN ARGS...: the logs of `kubectl logs ARGS` (a pod, or -l
# and a selector) hold N lines with PATTERN.
logged() {
  local n=$1 pattern=$2 got
  shift 2
  got=$({ kubectl logs "$@" --tail=-1 2>/dev/null || true; } | grep -cF -- "$pattern" || true)
  WHY="$got lines with '$pattern' in the logs of $*, want $n"
  [ "$got" -eq "$n" ]
}

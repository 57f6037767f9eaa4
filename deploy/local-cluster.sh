#!/usr/bin/env bash
# A kvstash cluster on this machine: one etcd and N kvstashd daemons on
# loopback ports, each with its own data dir and Unix socket, for demos and
# failure drills. Needs bash, coreutils and (preferably) curl.
#
# Layout under --dir (DIR):
#   cluster.state          what is running: one line per process (see write_state)
#   etcd/                  data/, pid, cmdline, etcd.log
#   node-I/                the daemon's --data-dir: disk tier, kvstashd.sock, pid,
#                          cmdline (NUL-separated argv, for restart), stdout.log
#                          (the ready line), kvstashd.log (stderr, appended)
# Ports, from --base-port P: etcd client P and peer P+100; node-I RPC P+I and
# HTTP P+100+I (I = 1..N, N <= 99).
set -euo pipefail

readonly SCRIPT=${0##*/}
REPO=$(cd "$(dirname "$0")/.." && pwd)
readonly REPO
readonly EXIT_USAGE=2 EXIT_PORT_IN_USE=3

usage() {
  cat <<EOF
usage: $SCRIPT COMMAND [options]

A local kvstash cluster: one etcd and N kvstashd (node-1..node-N) on 127.0.0.1.

commands:
  start [options] [-- KVSTASHD_FLAGS...]
      start etcd and the daemons, wait until each answers /readyz, write
      DIR/cluster.state and print the nodes. On a cluster already in DIR it
      starts only what is down, with the recorded node count and ports.
        -n, --nodes N          daemons to start (default: 3)
        --base-port P          etcd client P, peer P+100; node-I RPC P+I, HTTP
                               P+100+I (default: 17400)
        --build DIR            take kvstashd from DIR/service/kvstashd
                               (default: \$KVSTASHD, else build/default, else PATH)
        --cluster NAME         kvstashd --cluster (default: local)
        --replicas R           kvstashd --replicas (default: the daemon's)
        --membership MODE      etcd: nodes find each other through etcd (needs
                               kvstashd --etcd); node-events: no etcd, every
                               node gets --node-events for every other node, so
                               all routers see all tiers; auto (default): etcd
                               when kvstashd has --etcd, else node-events
        --ready-timeout S      seconds to wait for each process (default: 30)
      Flags after -- go to every kvstashd. Unless given there, nodes get
      --host-gib 0.25 --disk-gib 1.
  status      each process: pid, /healthz, /readyz, a /v1/stats summary,
              connected peers (node-events) or the members registered in etcd;
              exits 1 when anything is down
  stop [--wipe] [--timeout S]
              SIGTERM the daemons (they drain), SIGKILL after S seconds
              (default: 20), then etcd; removes pid files and the state file.
              --wipe also deletes the data (etcd/ and node-*/ under DIR).
  kill NODE   SIGKILL one process (node-I, I, or etcd), for failure drills
  restart NODE [--timeout S] [--ready-timeout S]
              stop NODE (SIGTERM, SIGKILL after S) and start it again with the
              same flags; its disk tier reopens. A killed node stays in etcd
              until its lease expires: restart waits for that first

options for every command:
  --dir DIR   cluster directory (default: \$KVSTASH_CLUSTER_DIR, else
              \$XDG_STATE_HOME/kvstash-cluster, else /tmp/kvstash-cluster-\$UID)
  -h, --help  this text

environment: KVSTASHD (kvstashd binary), ETCD (etcd binary), KVSTASH_CLUSTER_DIR.
exit status: 0 ok, 1 failure, 2 usage, 3 a port is already in use.

examples:
  $SCRIPT start -n 3 -- --profile llama-3.1-8b --host-gib 1
  $SCRIPT status
  $SCRIPT kill node-2 && $SCRIPT restart node-2
  $SCRIPT stop --wipe
EOF
}

die() {  # [exit-code] message
  local code=1
  if [[ $# -gt 1 && $1 =~ ^[0-9]+$ ]]; then code=$1; shift; fi
  echo "$SCRIPT: $*" >&2
  exit "$code"
}
usage_error() { die "$EXIT_USAGE" "$* (see --help)"; }
note() { echo "$SCRIPT: $*" >&2; }

# ---- options -----------------------------------------------------------------

COMMAND="" TARGET="" DIR="" NODES=3 BASE_PORT=17400 BUILD_DIR="" CLUSTER=local REPLICAS=""
MEMBERSHIP=auto READY_TIMEOUT=30 STOP_TIMEOUT=20 WIPE=0 NODES_GIVEN=0 PORT_GIVEN=0
EXTRA=()

need_value() { [[ $# -ge 2 && -n $2 ]] || usage_error "$1 needs a value"; }
need_uint() { [[ $2 =~ ^[0-9]+$ ]] || usage_error "$1: '$2' is not a non-negative integer"; }

parse_args() {
  [[ $# -gt 0 ]] || { usage >&2; exit "$EXIT_USAGE"; }
  case $1 in
    -h | --help) usage; exit 0 ;;
    start | status | stop | kill | restart) COMMAND=$1; shift ;;
    *) usage_error "unknown command '$1'" ;;
  esac
  while [[ $# -gt 0 ]]; do
    case $1 in
      -h | --help) usage; exit 0 ;;
      --) shift; EXTRA=("$@"); break ;;
      --dir) need_value "$@"; DIR=$2; shift ;;
      -n | --nodes) need_value "$@"; need_uint "$1" "$2"; NODES=$2; NODES_GIVEN=1; shift ;;
      --base-port) need_value "$@"; need_uint "$1" "$2"; BASE_PORT=$2; PORT_GIVEN=1; shift ;;
      --build) need_value "$@"; BUILD_DIR=$2; shift ;;
      --cluster) need_value "$@"; CLUSTER=$2; shift ;;
      --replicas) need_value "$@"; need_uint "$1" "$2"; REPLICAS=$2; shift ;;
      --membership) need_value "$@"; MEMBERSHIP=$2; shift ;;
      --ready-timeout) need_value "$@"; need_uint "$1" "$2"; READY_TIMEOUT=$2; shift ;;
      --timeout) need_value "$@"; need_uint "$1" "$2"; STOP_TIMEOUT=$2; shift ;;
      --wipe) WIPE=1 ;;
      -*) usage_error "$COMMAND: unknown option '$1'" ;;
      *)
        [[ ($COMMAND == kill || $COMMAND == restart) && -z $TARGET ]] ||
          usage_error "$COMMAND: unexpected argument '$1'"
        TARGET=$1 ;;
    esac
    shift
  done
  check_args
}

check_args() {
  if [[ $COMMAND == kill || $COMMAND == restart ]]; then
    [[ -n $TARGET ]] || usage_error "$COMMAND needs a NODE (node-I, I or etcd)"
    [[ $TARGET =~ ^[0-9]+$ ]] && TARGET=node-$TARGET
    [[ $TARGET == etcd || $TARGET =~ ^node-[0-9]+$ ]] ||
      usage_error "$COMMAND: '$TARGET' is not node-I, I or etcd"
  fi
  [[ $WIPE == 0 || $COMMAND == stop ]] || usage_error "--wipe is for stop"
  [[ ${#EXTRA[@]} == 0 || $COMMAND == start ]] || usage_error "kvstashd flags after -- are for start"
  ((NODES >= 1 && NODES <= 99)) || usage_error "-n: $NODES nodes; 1 to 99 fit the port plan"
  ((BASE_PORT >= 1024 && BASE_PORT + 200 <= 65535)) ||
    usage_error "--base-port: $BASE_PORT; the cluster uses P..P+199, so 1024 <= P <= 65335"
  [[ $CLUSTER =~ ^[A-Za-z0-9._:-]{1,128}$ ]] ||
    usage_error "--cluster: '$CLUSTER' is not 1..128 of [A-Za-z0-9._:-]"
  case $MEMBERSHIP in auto | etcd | node-events) ;; *)
    usage_error "--membership: '$MEMBERSHIP' is not auto, etcd or node-events" ;;
  esac
  if [[ -z $DIR ]]; then
    DIR=${KVSTASH_CLUSTER_DIR:-${XDG_STATE_HOME:+$XDG_STATE_HOME/kvstash-cluster}}
    DIR=${DIR:-/tmp/kvstash-cluster-$(id -u)}
  fi
  [[ $DIR != *[[:space:]]* ]] || usage_error "--dir: '$DIR' has whitespace; pick a path without"
  DIR=$(realpath -m -- "$DIR")
  [[ $DIR != / ]] || usage_error "--dir: not /"
}

# ---- processes -----------------------------------------------------------------

# Each process is known by its directory (DIR/etcd or DIR/node-I), which holds
# its pid file; its "marker" is the --data-dir argument it was started with,
# so a pid reused by an unrelated process is never signalled.
proc_dir() { echo "$DIR/$1"; }
proc_marker() { if [[ $1 == etcd ]]; then echo "$DIR/etcd/data"; else echo "$DIR/$1"; fi; }

alive() {  # pid marker: the process runs (not a zombie) and has marker in its argv
  local pid=$1 marker=$2 stat
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [[ ${stat:0:1} != Z && ${stat:0:1} != X ]] || return 1
  { tr '\0' '\n' <"/proc/$pid/cmdline"; } 2>/dev/null | grep -qxF -- "$marker"
}

proc_pid() {  # name: prints the pid of a live process, else fails
  local name=$1 pid
  pid=$(cat "$(proc_dir "$name")/pid" 2>/dev/null) || return 1
  alive "$pid" "$(proc_marker "$name")" || return 1
  echo "$pid"
}

launch() {  # name logfile argv...: starts argv detached, writes pid and cmdline
  local name=$1 log=$2 dir
  shift 2
  dir=$(proc_dir "$name")
  mkdir -p "$dir"
  printf '%s\0' "$@" >"$dir/cmdline"
  echo "=== $SCRIPT: starting $name at $(date -Is)" >>"$log"
  # setsid: a later Ctrl-C or hangup in this terminal must not reach the cluster.
  local setsid=()
  command -v setsid >/dev/null && setsid=(setsid)
  if [[ $name == etcd ]]; then
    "${setsid[@]}" "$@" </dev/null >>"$log" 2>&1 &
  else
    : >"$dir/stdout.log"  # here, not in the child: wait_node must never see the last run's line
    "${setsid[@]}" "$@" </dev/null >>"$dir/stdout.log" 2>>"$log" &
  fi
  echo $! >"$dir/pid"
}

signal_and_wait() {  # timeout name...: SIGTERM each, SIGKILL what outlives timeout
  local timeout=$1 name pid
  shift
  local -A pids=()
  for name in "$@"; do
    pid=$(proc_pid "$name") || continue
    kill -TERM "$pid" 2>/dev/null || true
    pids[$name]=$pid
  done
  local deadline=$((SECONDS + timeout))
  while ((${#pids[@]} > 0)); do
    for name in "${!pids[@]}"; do
      alive "${pids[$name]}" "$(proc_marker "$name")" || unset "pids[$name]"
    done
    ((${#pids[@]} > 0)) || break
    if ((SECONDS >= deadline)); then
      for name in "${!pids[@]}"; do
        note "$name (pid ${pids[$name]}) still running after ${timeout}s: SIGKILL"
        kill -KILL "${pids[$name]}" 2>/dev/null || true
      done
      wait_gone 5 "${!pids[@]}"
      break
    fi
    sleep 0.1
  done
}

wait_gone() {  # timeout name...
  local deadline=$((SECONDS + $1)) name
  shift
  for name in "$@"; do
    while proc_pid "$name" >/dev/null; do
      ((SECONDS < deadline)) || die "$name did not exit"
      sleep 0.05
    done
  done
}

# ---- HTTP ----------------------------------------------------------------------

# http_get HOST:PORT PATH: prints the body; succeeds only on 200. curl when
# installed, else bash's /dev/tcp (the body is Content-Length bytes: the
# server may keep the connection open).
http_get() {
  local hp=$1 path=$2
  if command -v curl >/dev/null; then
    curl -fsS --max-time 3 "http://$hp$path" 2>/dev/null
    return
  fi
  # shellcheck disable=SC2016  # expanded by the inner bash
  timeout 3 bash -c '
    exec 3<>"/dev/tcp/${0%:*}/${0##*:}" || exit 1
    printf "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" "$1" "$0" >&3
    IFS= read -r status <&3 || exit 1
    len=0 cr=$(printf "\r")
    while IFS= read -r line <&3; do
      line=${line%"$cr"}
      [[ -n $line ]] || break
      if [[ ${line,,} == content-length:* ]]; then len=${line#*:}; len=${len// /}; fi
    done
    [[ $status == "HTTP/1."?" 200"* ]] || exit 1
    head -c "$len" <&3
    echo' "$hp" "$path" 2>/dev/null
}

port_busy() {  # port: something accepts connections on 127.0.0.1:port
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# ---- state ---------------------------------------------------------------------

# DIR/cluster.state, whitespace-separated, one line per entry:
#   cluster NAME  membership MODE  nodes N  base_port P  bin PATH
#   etcd PID CLIENT_URL PEER_URL DATA_DIR          (PID "-" when down)
#   node NAME PID SOCKET TCP HTTP DATA_DIR         (PID "-" when down)
# PIDs here are a snapshot for tools; the pid files are what this script trusts.
state_file() { echo "$DIR/cluster.state"; }

state_get() {  # key: the value of a header field ("membership", "nodes", ...)
  local f
  f=$(state_file)
  [[ -f $f ]] || return 1
  awk -v k="$1" '$1 == "cluster" { for (i = 1; i < NF; i += 2) if ($i == k) print $(i + 1) }' "$f"
}

state_nodes() { awk '$1 == "node" { print $2 }' "$(state_file)"; }

node_field() {  # name field(socket|tcp|http)
  awk -v n="$1" -v f="$2" '$1 == "node" && $2 == n {
    print (f == "socket" ? $4 : f == "tcp" ? $5 : $6) }' "$(state_file)"
}

write_state() {  # membership nodes base_port bin
  local membership=$1 nodes=$2 base=$3 bin=$4 i pid f tmp
  f=$(state_file)
  tmp=$f.tmp.$$
  {
    echo "# written by deploy/$SCRIPT; one line per process, PID '-' when down"
    echo "cluster $CLUSTER membership $membership nodes $nodes base_port $base bin $bin"
    if [[ $membership == etcd ]]; then
      pid=$(proc_pid etcd) || pid=-
      echo "etcd $pid http://127.0.0.1:$base http://127.0.0.1:$((base + 100)) $DIR/etcd/data"
    fi
    for ((i = 1; i <= nodes; i++)); do
      pid=$(proc_pid "node-$i") || pid=-
      echo "node node-$i $pid $DIR/node-$i/kvstashd.sock 127.0.0.1:$((base + i))" \
        "127.0.0.1:$((base + 100 + i)) $DIR/node-$i"
    done
  } >"$tmp"
  mv -f "$tmp" "$f"
}

refresh_state() {  # rewrites the pids in the state file
  [[ -f $(state_file) ]] || return 0
  CLUSTER=$(state_get cluster)
  write_state "$(state_get membership)" "$(state_get nodes)" "$(state_get base_port)" \
    "$(state_get bin)"
}

require_state() {
  [[ -f $(state_file) ]] || die "no cluster in $DIR (start one: $0 start --dir $DIR)"
}

# ---- start ---------------------------------------------------------------------

find_kvstashd() {
  local bin
  if [[ -n $BUILD_DIR ]]; then
    bin=$BUILD_DIR/service/kvstashd
  elif [[ -n ${KVSTASHD:-} ]]; then
    bin=$KVSTASHD
  elif [[ -x $REPO/build/default/service/kvstashd ]]; then
    bin=$REPO/build/default/service/kvstashd
  else
    bin=$(command -v kvstashd) || die "kvstashd not found: build it (cmake --preset default &&" \
      "cmake --build build/default --target kvstashd), or pass --build DIR or KVSTASHD=PATH"
  fi
  [[ -f $bin && -x $bin ]] || die "kvstashd: '$bin' is not an executable file" \
    "(build it, or pass --build DIR or KVSTASHD=PATH)"
  realpath -- "$bin"
}

find_etcd() {
  local bin=${ETCD:-}
  [[ -n $bin ]] || bin=$(command -v etcd) || bin=/usr/bin/etcd
  [[ -x $bin ]] || die "etcd not found (apt-get install etcd-server, set ETCD=PATH," \
    "or run without etcd: --membership node-events)"
  echo "$bin"
}

has_flag() {  # help-text flag: kvstashd --help lists --flag
  grep -qE "^[[:space:]]*--$2([[:space:]]|$)" <<<"$1"
}

extra_has() {  # flag: the user's kvstashd flags set it
  local a
  for a in "${EXTRA[@]}"; do
    [[ $a == "$1" || $a == "$1="* ]] && return 0
  done
  return 1
}

check_extra_flags() {
  local f
  for f in --data-dir --socket --listen --http --node-id --etcd --cluster; do
    extra_has "$f" && usage_error "$f is set per node by this script; not after --"
  done
  if [[ -n $REPLICAS ]] && extra_has --replicas; then
    usage_error "--replicas given twice (before and after --)"
  fi
  return 0
}

resolve_membership() {  # help-text: prints etcd or node-events
  local help=$1
  case $MEMBERSHIP in
    etcd)
      has_flag "$help" etcd || die "--membership etcd: this kvstashd has no --etcd flag" \
        "(rebuild it, or use --membership node-events)"
      echo etcd ;;
    node-events) echo node-events ;;
    auto)
      if has_flag "$help" etcd; then echo etcd; else
        note "kvstashd has no --etcd: nodes are wired with --node-events instead (no etcd)"
        echo node-events
      fi ;;
  esac
}

check_ports() {  # membership nodes base
  local membership=$1 nodes=$2 base=$3 i
  local -a ports=() what=()
  if [[ $membership == etcd ]]; then
    ports+=("$base" $((base + 100))) what+=("etcd client" "etcd peer")
  fi
  for ((i = 1; i <= nodes; i++)); do
    ports+=($((base + i)) $((base + 100 + i))) what+=("node-$i --listen" "node-$i --http")
  done
  for i in "${!ports[@]}"; do
    if port_busy "${ports[$i]}"; then
      die "$EXIT_PORT_IN_USE" "port ${ports[$i]} (${what[$i]}) is in use on 127.0.0.1;" \
        "pick another --base-port (or stop what holds it)"
    fi
  done
}

start_etcd() {  # base
  local base=$1 bin dir=$DIR/etcd name=kvstash-$CLUSTER
  bin=$(find_etcd)
  mkdir -p "$dir/data"
  chmod 700 "$dir/data"
  launch etcd "$dir/etcd.log" "$bin" --name "$name" --data-dir "$dir/data" \
    --listen-client-urls "http://127.0.0.1:$base" \
    --advertise-client-urls "http://127.0.0.1:$base" \
    --listen-peer-urls "http://127.0.0.1:$((base + 100))" \
    --initial-advertise-peer-urls "http://127.0.0.1:$((base + 100))" \
    --initial-cluster "$name=http://127.0.0.1:$((base + 100))" \
    --initial-cluster-state new --initial-cluster-token "kvstash-$CLUSTER"
}

wait_etcd() {  # base
  local deadline=$((SECONDS + READY_TIMEOUT)) body
  while :; do
    proc_pid etcd >/dev/null || fail_start etcd "etcd exited" "$DIR/etcd/etcd.log"
    body=$(http_get "127.0.0.1:$1" /health) && [[ $body == *'"true"'* ]] && return 0
    ((SECONDS < deadline)) || fail_start etcd "etcd not healthy after ${READY_TIMEOUT}s" \
      "$DIR/etcd/etcd.log"
    sleep 0.1
  done
}

node_argv() {  # i membership nodes base bin help: fills NODE_ARGV
  local i=$1 membership=$2 nodes=$3 base=$4 bin=$5 help=$6 j d=$DIR/node-$1
  NODE_ARGV=("$bin" --data-dir "$d" --socket "$d/kvstashd.sock"
    --listen "127.0.0.1:$((base + i))" --http "127.0.0.1:$((base + 100 + i))"
    --node-id "node-$i")
  if [[ $membership == etcd ]]; then
    NODE_ARGV+=(--etcd "http://127.0.0.1:$base")
  else
    for ((j = 1; j <= nodes; j++)); do
      ((j == i)) || NODE_ARGV+=(--node-events "node-$j=127.0.0.1:$((base + j))")
    done
  fi
  if has_flag "$help" cluster; then
    NODE_ARGV+=(--cluster "$CLUSTER")
  elif [[ $CLUSTER != local ]]; then
    die "--cluster: this kvstashd has no --cluster flag"
  fi
  if [[ -n $REPLICAS ]]; then
    has_flag "$help" replicas || die "--replicas: this kvstashd has no --replicas flag"
    NODE_ARGV+=(--replicas "$REPLICAS")
  fi
  extra_has --host-gib || NODE_ARGV+=(--host-gib 0.25)
  extra_has --disk-gib || NODE_ARGV+=(--disk-gib 1)
  NODE_ARGV+=("${EXTRA[@]}")
}

wait_node() {  # name: waits for the ready line and /readyz
  local name=$1 dir=$DIR/$1 deadline=$((SECONDS + READY_TIMEOUT)) line="" pid http
  while [[ -z $line ]]; do
    line=$(grep -m1 '^kvstashd ready ' "$dir/stdout.log" 2>/dev/null) || line=""
    [[ -n $line ]] && break
    proc_pid "$name" >/dev/null || fail_start "$name" "kvstashd exited" "$dir/kvstashd.log"
    ((SECONDS < deadline)) || fail_start "$name" "no ready line after ${READY_TIMEOUT}s" \
      "$dir/kvstashd.log"
    sleep 0.05
  done
  pid=$(sed -E 's/.* pid=([0-9]+).*/\1/' <<<"$line")
  echo "$pid" >"$dir/pid"  # the daemon's own word, in case setsid forked
  http=$(sed -E 's/.* http=([^ ]+).*/\1/' <<<"$line")
  until http_get "$http" /readyz >/dev/null; do
    ((SECONDS < deadline)) || fail_start "$name" "/readyz not 200 after ${READY_TIMEOUT}s" \
      "$dir/kvstashd.log"
    sleep 0.1
  done
}

# A fresh start that fails stops what it started, so that a retry (say, on
# other ports) begins from nothing; a failed restart leaves the others up.
FRESH_START=0

fail_start() {  # name reason log
  note "$1: $2; last lines of $3:"
  tail -n 15 "$3" >&2 2>/dev/null || true
  local code=1
  tail -n 5 "$3" 2>/dev/null | grep -qi 'address already in use' && code=$EXIT_PORT_IN_USE
  if ((FRESH_START)); then
    note "stopping what this start started"
    cmd_stop >/dev/null 2>&1
    die "$code" "$1 failed to start (see $3)"
  fi
  die "$code" "$1 failed to start (see $3)"
}

cmd_start() {
  local bin help membership nodes=$NODES base=$BASE_PORT i
  check_extra_flags
  if any_running; then
    [[ -f $(state_file) ]] || die "processes of a cluster run in $DIR but its state file is" \
      "gone; stop them first ($0 stop --dir $DIR)"
    start_missing
    return
  fi
  if [[ -f $(state_file) ]]; then  # all down (killed, or a reboot): same shape by default
    ((NODES_GIVEN)) || nodes=$(state_get nodes)
    ((PORT_GIVEN)) || base=$(state_get base_port)
  fi
  bin=$(find_kvstashd)
  help=$("$bin" --help 2>&1) || die "'$bin --help' failed: $help"
  membership=$(resolve_membership "$help")
  check_ports "$membership" "$nodes" "$base"
  mkdir -p "$DIR" || die "cannot create $DIR"
  [[ -w $DIR ]] || die "$DIR is not writable"
  FRESH_START=1
  if [[ $membership == etcd ]]; then
    start_etcd "$base"
    wait_etcd "$base"
  fi
  for ((i = 1; i <= nodes; i++)); do
    node_argv "$i" "$membership" "$nodes" "$base" "$bin" "$help"
    launch "node-$i" "$DIR/node-$i/kvstashd.log" "${NODE_ARGV[@]}"
  done
  write_state "$membership" "$nodes" "$base" "$bin"
  for ((i = 1; i <= nodes; i++)); do wait_node "node-$i"; done
  write_state "$membership" "$nodes" "$base" "$bin"
  print_table
}

any_running() {  # from the pid files, which outlive a lost state file
  local d
  proc_pid etcd >/dev/null && return 0
  for d in "$DIR"/node-*/; do
    [[ -d $d ]] && proc_pid "$(basename "$d")" >/dev/null && return 0
  done
  return 1
}

# start on a cluster that is (partly) up: same shape only; restarts what is down.
start_missing() {
  local nodes base name started=0
  nodes=$(state_get nodes) base=$(state_get base_port)
  if [[ ($NODES_GIVEN == 1 && $NODES != "$nodes") || ($PORT_GIVEN == 1 && $BASE_PORT != "$base") ]]
  then
    die "a cluster of $nodes nodes on base port $base is running in $DIR; stop it first" \
      "($0 stop --dir $DIR) or pick another --dir"
  fi
  [[ ${#EXTRA[@]} == 0 ]] || note "cluster already running: flags after -- ignored"
  if [[ $(state_get membership) == etcd ]] && ! proc_pid etcd >/dev/null; then
    relaunch etcd; started=1
  fi
  for name in $(state_nodes); do
    proc_pid "$name" >/dev/null || { relaunch "$name"; started=1; }
  done
  ((started)) || note "cluster in $DIR is already running"
  refresh_state
  print_table
}

relaunch() {  # name: starts a stopped process again with its recorded argv
  local name=$1 dir=$DIR/$1 argv=() log
  [[ -f $dir/cmdline ]] || die "$name: no $dir/cmdline to restart it from"
  mapfile -d '' argv <"$dir/cmdline"
  [[ $name == etcd ]] || wait_unregistered "$name"
  [[ $name == etcd ]] && log=$dir/etcd.log || log=$dir/kvstashd.log
  launch "$name" "$log" "${argv[@]}"
  if [[ $name == etcd ]]; then wait_etcd "$(state_get base_port)"; else wait_node "$name"; fi
}

# A killed node stays registered in etcd until its lease expires (the daemon's
# --lease-ttl-s), and kvstashd refuses to join under a node id still in use:
# wait for that before starting it again. No-op without etcd or when etcd is down.
wait_unregistered() {  # name
  local name=$1 url members deadline=$((SECONDS + READY_TIMEOUT)) noted=0
  [[ $(state_get membership) == etcd ]] || return 0
  CLUSTER=$(state_get cluster)
  url=$(awk '$1 == "etcd" { print $3 }' "$(state_file)")
  while members=$(etcd_members "$url") && [[ " $members " == *" $name "* ]]; do
    ((noted)) || note "waiting for $name's etcd lease to expire before it rejoins"
    noted=1
    ((SECONDS < deadline)) || die "$name still registered in etcd after ${READY_TIMEOUT}s"
    sleep 0.2
  done
}

print_table() {
  local kind a b c d e f
  printf '%-8s %-8s %-44s %-16s %s\n' NAME PID SOCKET TCP HTTP
  while read -r kind a b c d e f; do
    case $kind in
      etcd) printf '%-8s %-8s %-44s %-16s %s\n' etcd "$a" - "${b#http://}" - ;;
      node) printf '%-8s %-8s %-44s %-16s %s\n' "$a" "$b" "$c" "$d" "$e" ;;
    esac
  done <"$(state_file)"
  echo "state: $(state_file); logs: $DIR/*/*.log; stop: $0 stop --dir $DIR"
}

# ---- status --------------------------------------------------------------------

json_num() {  # key text: the first "key": N in text
  grep -oE "\"$1\": ?-?[0-9]+" <<<"$2" | head -n 1 | grep -oE -- '-?[0-9]+$' || echo "?"
}

human_bytes() {
  local b=$1
  if ((b >= 1 << 30)); then echo "$((b * 10 / (1 << 30)))" | sed -E 's/(.)$/.\1G/'
  elif ((b >= 1 << 20)); then echo "$((b >> 20))M"
  else echo "$((b >> 10))K"; fi
}

stats_summary() {  # /v1/stats json: "blocks B hits H misses M host U/C disk U/C"
  local json=$1 out name cap used
  out="blocks $(json_num blocks "$json") hits $(json_num hits "$json") misses $(json_num misses "$json")"
  while read -r name cap used; do
    [[ -n $name ]] && out+=" $name $(human_bytes "$used")/$(human_bytes "$cap")"
  done < <(grep -oE '"name": ?"[a-z]+", ?"capacity_bytes": ?[0-9]+, ?"used_bytes": ?[0-9]+' \
    <<<"$json" | sed -E 's/"name": ?"([a-z]+)", ?"capacity_bytes": ?([0-9]+), ?"used_bytes": ?([0-9]+)/\1 \2 \3/')
  echo "$out"
}

node_status() {  # name: prints one line; fails when the node is not healthy
  local name=$1 http pid health ready stats peers workers
  http=$(node_field "$name" http)
  pid=$(proc_pid "$name") || { printf '%-8s %-8s %s\n' "$name" - down; return 1; }
  health=$(http_get "$http" /healthz) || health=FAIL
  if http_get "$http" /readyz >/dev/null; then ready=ready; else ready=NOT-READY; fi
  stats=$(http_get "$http" /v1/stats) && stats=$(stats_summary "$stats") || stats="(no /v1/stats)"
  peers=""
  if workers=$(http_get "$http" /v1/workers) && [[ $workers == *'"connected":'* ]]; then
    peers=" peers $(grep -o '"connected":true' <<<"$workers" | wc -l)/$(grep -o '"connected":' <<<"$workers" | wc -l)"
  fi
  printf '%-8s %-8s %-6s %-9s %s%s\n' "$name" "$pid" "$health" "$ready" "$stats" "$peers"
  [[ $health == ok && $ready == ready ]]
}

# The node ids registered under /kvstash/<cluster>/members/ (service/cluster/
# member.h), space-separated; fails when etcd cannot be asked (no curl).
etcd_members() {  # url
  local prefix=/kvstash/$CLUSTER/members/ key end json k
  command -v curl >/dev/null && command -v base64 >/dev/null || return 1
  key=$(printf '%s' "$prefix" | base64 -w0)
  end=$(printf '%s' "${prefix%/}0" | base64 -w0)  # '0' follows '/': the prefix's range end
  json=$(curl -fsS --max-time 3 -X POST "$1/v3/kv/range" \
    -d "{\"key\": \"$key\", \"range_end\": \"$end\", \"keys_only\": true}") || return 1
  while read -r k; do
    k=$(base64 -d <<<"$k" 2>/dev/null) || continue
    printf '%s ' "${k#"$prefix"}"
  done < <(grep -oE '"key": ?"[A-Za-z0-9+/=]+"' <<<"$json" | sed -E 's/.*"([^"]+)"$/\1/')
}

etcd_status() {  # fails when etcd is down or unhealthy
  local url pid health members
  url=$(awk '$1 == "etcd" { print $3 }' "$(state_file)")
  pid=$(proc_pid etcd) || { printf '%-8s %-8s %s\n' etcd - down; return 1; }
  health=$(http_get "${url#http://}" /health) || health=""
  [[ $health == *'"true"'* ]] && health=ok || health=FAIL
  members=""
  if [[ $health == ok ]] && members=$(etcd_members "$url"); then
    members="members: ${members:-none}"
  fi
  printf '%-8s %-8s %-6s %s\n' etcd "$pid" "$health" "$members"
  [[ $health == ok ]]
}

cmd_status() {
  local name bad=0
  require_state
  CLUSTER=$(state_get cluster)
  echo "cluster $CLUSTER in $DIR (membership $(state_get membership))"
  if [[ $(state_get membership) == etcd ]]; then etcd_status || bad=1; fi
  for name in $(state_nodes); do node_status "$name" || bad=1; done
  refresh_state
  return "$bad"
}

# ---- stop / kill / restart ----------------------------------------------------

cmd_stop() {
  local live=() d name
  for d in "$DIR"/node-*/; do
    [[ -d $d ]] && proc_pid "$(basename "$d")" >/dev/null && live+=("$(basename "$d")")
  done
  if ((${#live[@]} == 0)) && ! proc_pid etcd >/dev/null; then
    note "nothing running in $DIR"
  fi
  signal_and_wait "$STOP_TIMEOUT" "${live[@]}"
  for name in "${live[@]}"; do
    if tail -n 3 "$DIR/$name/kvstashd.log" 2>/dev/null | grep -q 'stopped cleanly'; then
      echo "$name stopped cleanly"
    else
      echo "$name stopped, not cleanly: its log ($DIR/$name/kvstashd.log) ends with:"
      tail -n 2 "$DIR/$name/kvstashd.log" 2>/dev/null | sed 's/^/    /'
    fi
  done
  if proc_pid etcd >/dev/null; then
    signal_and_wait "$STOP_TIMEOUT" etcd
    echo "etcd stopped"
  fi
  rm -f "$DIR"/node-*/pid "$DIR/etcd/pid" "$(state_file)"
  ((WIPE)) && wipe
  return 0
}

# Deletes only what start created, never DIR's other contents.
wipe() {
  local d
  rm -f -- "$DIR"/cluster.state.tmp.*
  for d in "$DIR"/node-* "$DIR"/etcd; do
    [[ -d $d ]] && rm -rf -- "$d"
  done
  rmdir -- "$DIR" 2>/dev/null || true
  echo "wiped $DIR"
}

check_target() {
  require_state
  [[ $TARGET == etcd ]] && [[ $(state_get membership) != etcd ]] &&
    die "this cluster runs without etcd (membership $(state_get membership))"
  [[ $TARGET == etcd ]] || state_nodes | grep -qxF -- "$TARGET" ||
    die "no $TARGET in this cluster (nodes: $(state_nodes | tr '\n' ' '))"
}

cmd_kill() {
  local pid
  check_target
  if ! pid=$(proc_pid "$TARGET"); then
    note "$TARGET is not running"
  else
    kill -KILL "$pid"
    wait_gone 5 "$TARGET"
    echo "$TARGET killed (SIGKILL, pid $pid)"
  fi
  rm -f "$DIR/$TARGET/pid"
  refresh_state
}

cmd_restart() {
  local pid
  check_target
  if pid=$(proc_pid "$TARGET"); then
    signal_and_wait "$STOP_TIMEOUT" "$TARGET"
    echo "$TARGET stopped (pid $pid)"
  fi
  relaunch "$TARGET"
  refresh_state
  echo "$TARGET running (pid $(proc_pid "$TARGET"))"
}

main() {
  parse_args "$@"
  "cmd_$COMMAND"
}

main "$@"

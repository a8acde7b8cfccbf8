# shellcheck shell=bash
# Highly available Redis for scripts/stack (`up --redis sentinel|cluster`),
# beside the stack's single Redis on 6379, on ports of their own:
#
#   sentinel  primary 127.0.0.1:6641, replica 6642 (replicaof the primary),
#             sentinels 26641-26643 monitoring it as "tagflow" (quorum 2,
#             down after 2 s): redis+sentinel://127.0.0.1:26641,127.0.0.1:26642,127.0.0.1:26643/tagflow
#   cluster   6 nodes 127.0.0.1:6651-6656 (--cluster-enabled), joined by
#             redis-cli --cluster create with one replica per primary:
#             redis+cluster://127.0.0.1:6651,127.0.0.1:6652,127.0.0.1:6653
#
# Every server keeps an append-only file (fsync every second) under
# <state>/redis-ha/<name>; Debian's redis-server, redis-sentinel, redis-cli.
# Sourced by scripts/stack; `down` stops these too.

REDIS_HA_DIR="$STATE_DIR/redis-ha"
SENTINEL_MASTER=tagflow
SENTINEL_DATA_PORTS=(6641 6642)
SENTINEL_PORTS=(26641 26642 26643)
CLUSTER_PORTS=(6651 6652 6653 6654 6655 6656)
# shellcheck disable=SC2034  # printed by redis_ha_env
SENTINEL_URL="redis+sentinel://127.0.0.1:26641,127.0.0.1:26642,127.0.0.1:26643/$SENTINEL_MASTER"
# shellcheck disable=SC2034
CLUSTER_URL="redis+cluster://127.0.0.1:6651,127.0.0.1:6652,127.0.0.1:6653"

# redis_ha_pid NAME -- pid of our server NAME (e.g. data-6641, sentinel-26641,
# cluster-6651) if it runs: the pid file's process has its working directory
# in the server's own directory.
redis_ha_pid() {
  local dir="$REDIS_HA_DIR/$1" pid
  pid="$(read_pid "$dir/pid")" || return 1
  pid_alive "$pid" && [[ "$(readlink "/proc/$pid/cwd" 2>/dev/null)" == "$dir" ]] && echo "$pid"
}

# redis_ha_names -- every server name with a directory (started at least once).
redis_ha_names() {
  [[ -d "$REDIS_HA_DIR" ]] || return 0
  find "$REDIS_HA_DIR" -mindepth 1 -maxdepth 1 -type d -printf '%f\n' | sort
}

# redis_ha_start NAME PORT CMD... -- start one server unless it runs; CMD gets
# --port, --bind, --dir and --logfile appended where it is a redis-server.
redis_ha_start() {
  local name="$1" port="$2" dir="$REDIS_HA_DIR/$1"
  shift 2
  redis_ha_pid "$name" >/dev/null && return 0
  local holder
  if holder="$(port_held_by_other "$port")"; then
    die "cannot start $name: port $port is in use by $holder"
  fi
  mkdir -p "$dir"
  launch_detached "$dir" "$dir/pid" "$dir/server.log" "$@"
  info "started $name (pid $(read_pid "$dir/pid"), 127.0.0.1:$port)"
}

# redis_ha_data_server NAME PORT [ARGS...] -- a redis-server with an AOF.
redis_ha_data_server() {
  local name="$1" port="$2" dir="$REDIS_HA_DIR/$1"
  shift 2
  redis_ha_start "$name" "$port" redis-server --bind 127.0.0.1 --port "$port" --dir "$dir" \
    --appendonly yes --appendfsync everysec --save '' --daemonize no --logfile "$dir/server.log" "$@"
}

# redis_ha_wait PORT TIMEOUT_S -- until the server on PORT answers PONG.
redis_ha_wait() {
  local start
  start="$(now_ms)"
  until [[ "$(timeout 2 redis-cli -p "$1" ping 2>/dev/null)" == PONG ]]; do
    (($(now_ms) - start < $2 * 1000)) || die "redis on port $1 did not answer within $2 s (logs in $REDIS_HA_DIR)"
    sleep 0.2
  done
}

# sentinel_binary -- redis-sentinel (Debian's package), or redis-server in
# sentinel mode (the same program) when only redis-server is installed.
sentinel_binary() {
  if have redis-sentinel; then echo redis-sentinel; else echo "redis-server --sentinel"; fi
}

# redis_ha_sentinel_up -- the primary, its replica and three sentinels. A
# server that runs already is left as it is (after a failover the replica
# may be the primary; the sentinels know).
redis_ha_sentinel_up() {
  local primary="${SENTINEL_DATA_PORTS[0]}" replica="${SENTINEL_DATA_PORTS[1]}" port dir conf
  redis_ha_data_server "data-$primary" "$primary"
  redis_ha_data_server "data-$replica" "$replica" --replicaof 127.0.0.1 "$primary"
  redis_ha_wait "$primary" 30
  redis_ha_wait "$replica" 30
  for port in "${SENTINEL_PORTS[@]}"; do
    dir="$REDIS_HA_DIR/sentinel-$port"
    conf="$dir/sentinel.conf"
    mkdir -p "$dir"
    # A sentinel rewrites its file (known replicas, the current primary,
    # epochs): written once, then kept.
    [[ -f "$conf" ]] || cat >"$conf" <<EOF
port $port
bind 127.0.0.1
dir $dir
logfile $dir/server.log
sentinel monitor $SENTINEL_MASTER 127.0.0.1 $primary 2
sentinel down-after-milliseconds $SENTINEL_MASTER 2000
sentinel failover-timeout $SENTINEL_MASTER 10000
sentinel parallel-syncs $SENTINEL_MASTER 1
EOF
    # shellcheck disable=SC2046  # sentinel_binary may be two words
    redis_ha_start "sentinel-$port" "$port" $(sentinel_binary) "$conf"
  done
  for port in "${SENTINEL_PORTS[@]}"; do redis_ha_wait "$port" 30; done
  info "sentinel: $SENTINEL_URL"
}

# redis_ha_cluster_up -- six cluster nodes, joined once into 3 primaries with
# one replica each.
redis_ha_cluster_up() {
  local port start nodes=()
  for port in "${CLUSTER_PORTS[@]}"; do
    redis_ha_data_server "cluster-$port" "$port" --cluster-enabled yes \
      --cluster-config-file nodes.conf --cluster-node-timeout 2000
    nodes+=("127.0.0.1:$port")
  done
  for port in "${CLUSTER_PORTS[@]}"; do redis_ha_wait "$port" 30; done
  if [[ "$(redis-cli -p "${CLUSTER_PORTS[0]}" cluster info | tr -d '\r' | awk -F: '$1 == "cluster_known_nodes" { print $2 }')" != "${#CLUSTER_PORTS[@]}" ]]; then
    redis-cli --cluster create "${nodes[@]}" --cluster-replicas 1 --cluster-yes >"$REDIS_HA_DIR/cluster-create.log" 2>&1 \
      || die "redis-cli --cluster create failed; see $REDIS_HA_DIR/cluster-create.log"
  fi
  start="$(now_ms)"
  until [[ "$(redis-cli -p "${CLUSTER_PORTS[0]}" cluster info | tr -d '\r' | grep '^cluster_state:')" == cluster_state:ok ]]; do
    (($(now_ms) - start < 30000)) || die "the cluster did not reach cluster_state:ok within 30 s"
    sleep 0.2
  done
  info "cluster: $CLUSTER_URL"
}

# redis_ha_up MODE -- `up --redis MODE`.
redis_ha_up() {
  case "$1" in
    sentinel) redis_ha_sentinel_up ;;
    cluster) redis_ha_cluster_up ;;
    *) die "unknown --redis mode '$1': use sentinel or cluster" ;;
  esac
}

# redis_ha_down -- stop every server of ours (data nodes last, so the
# sentinels do not start a failover while they stop).
redis_ha_down() {
  local name pid pids=() names=()
  for name in $(redis_ha_names | sort -r); do
    if pid="$(redis_ha_pid "$name")"; then
      pids+=("$pid") names+=("$name")
    fi
  done
  ((${#pids[@]})) || return 0
  info "stopping ${names[*]}"
  stop_pids "$STOP_TIMEOUT" "${pids[@]}"
}

# redis_ha_env -- the addresses of what runs, for `scripts/stack env`.
redis_ha_env() {
  redis_ha_pid "sentinel-${SENTINEL_PORTS[0]}" >/dev/null && echo "REDIS_SENTINEL_URL=$SENTINEL_URL"
  redis_ha_pid "cluster-${CLUSTER_PORTS[0]}" >/dev/null && echo "REDIS_CLUSTER_URL=$CLUSTER_URL"
  return 0
}

# shellcheck shell=bash
# Redis part of scripts/stack: Debian's redis-server on 127.0.0.1:6379 with an
# append-only file, data in <state>/redis. Sourced by scripts/stack.

REDIS_PORT=6379
REDIS_DIR="$STATE_DIR/redis"
REDIS_PIDFILE="$REDIS_DIR/redis.pid"
REDIS_LOG="$REDIS_DIR/redis.log"
# shellcheck disable=SC2034  # used by scripts/stack
REDIS_URL="redis://127.0.0.1:$REDIS_PORT"

# redis_pid -- pid of our redis-server; fails if it is not running. Ours =
# the pid file's process runs with its working directory in our data dir
# (redis chdirs to --dir), so a recycled pid or the system redis never match.
redis_pid() {
  local pid
  pid="$(read_pid "$REDIS_PIDFILE")" || return 1
  pid_alive "$pid" && [[ "$(readlink "/proc/$pid/cwd" 2>/dev/null)" == "$REDIS_DIR" ]] && echo "$pid"
}

# redis_ping -- true when our redis answers PONG.
redis_ping() {
  [[ "$(timeout 5 redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" == PONG ]]
}

# start_redis -- start redis-server in the background unless ours already
# runs. It stays in the foreground of its own session (launch_detached writes
# the pid file and closes inherited descriptors); it logs to $REDIS_LOG.
start_redis() {
  redis_pid >/dev/null && return 0
  mkdir -p "$REDIS_DIR"
  launch_detached "$REDIS_DIR" "$REDIS_PIDFILE" "$REDIS_LOG" \
    redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$REDIS_DIR" \
    --appendonly yes --appendfsync everysec --save '' --databases 64 \
    --daemonize no --logfile "$REDIS_LOG"
  info "started redis (pid $(read_pid "$REDIS_PIDFILE"), 127.0.0.1:$REDIS_PORT, data in $REDIS_DIR)"
}

# wait_for_redis TIMEOUT_S -- poll until our redis answers PONG (it answers
# LOADING while it replays the append-only file).
wait_for_redis() {
  local start elapsed
  start="$(now_ms)"
  until redis_ping; do
    elapsed=$(($(now_ms) - start))
    ((elapsed < $1 * 1000)) || die "redis did not answer PING within $1 s; see $REDIS_LOG"
    # Give the daemon a moment to write its pid file before calling it dead.
    if ((elapsed > 2000)) && ! redis_pid >/dev/null; then
      tail -n 15 "$REDIS_LOG" >&2 2>/dev/null || true
      die "redis-server is not running; see $REDIS_LOG"
    fi
    sleep 0.2
  done
}

# shellcheck shell=bash
# S3 part of scripts/stack (`up --s3`): SeaweedFS (master, volume server,
# filer and S3 gateway in one `weed server` process) with its S3 API on
# http://127.0.0.1:8333 and a bucket `tagflow`, data in <state>/s3, for
# `dataflow run --checkpoint-dir s3://tagflow/<prefix>`. No identities are
# configured: any credentials are accepted (a local server only). The
# binary is built from the Go module proxy by scripts/install-deps
# --seaweedfs. Sourced by scripts/stack; `down` stops it with the rest.

S3_PORT=8333
S3_BUCKET=tagflow
# The other ports of the one process (gRPC ports given explicitly).
S3_MASTER_PORT=9340 S3_VOLUME_PORT=9341 S3_FILER_PORT=9342
S3_DIR="$STATE_DIR/s3"
S3_PIDFILE="$S3_DIR/weed.pid"
S3_LOG="$S3_DIR/weed.log"
S3_WEED="${TAGFLOW_WEED:-$CACHE_DIR/seaweedfs/weed}"
# shellcheck disable=SC2034  # used by scripts/stack
S3_ENDPOINT="http://127.0.0.1:$S3_PORT"

# s3_pid -- pid of our weed server; fails if it is not running (ours = its
# working directory is our data dir).
s3_pid() {
  local pid
  pid="$(read_pid "$S3_PIDFILE")" || return 1
  pid_alive "$pid" && [[ "$(readlink "/proc/$pid/cwd" 2>/dev/null)" == "$S3_DIR" ]] && echo "$pid"
}

# s3_ports -- every port the weed server listens on.
s3_ports() {
  local p
  echo "$S3_PORT" $((S3_PORT + 10000))
  for p in "$S3_MASTER_PORT" "$S3_VOLUME_PORT" "$S3_FILER_PORT"; do echo "$p" $((p + 10000)); done
}

# s3_answers -- true when the S3 gateway answers HTTP.
s3_answers() { curl -s -o /dev/null -m 5 "$S3_ENDPOINT/" 2>/dev/null; }

# s3_up -- build the binary if needed, start weed unless ours runs, wait
# until the S3 gateway answers and the bucket exists.
s3_up() {
  local start port holder pid
  [[ -x "$S3_WEED" ]] || "$SCRIPTS_DIR/install-deps" --seaweedfs || exit 1
  if ! s3_pid >/dev/null; then
    for port in $(s3_ports); do
      if holder="$(port_held_by_other "$port")"; then
        die "cannot start SeaweedFS, port $port is in use by $holder"
      fi
    done
    mkdir -p "$S3_DIR/data"
    launch_detached "$S3_DIR" "$S3_PIDFILE" "$S3_LOG" \
      "$S3_WEED" server -dir="$S3_DIR/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
      -master.port="$S3_MASTER_PORT" -master.port.grpc=$((S3_MASTER_PORT + 10000)) \
      -volume.port="$S3_VOLUME_PORT" -volume.port.grpc=$((S3_VOLUME_PORT + 10000)) \
      -filer -filer.port="$S3_FILER_PORT" -filer.port.grpc=$((S3_FILER_PORT + 10000)) \
      -s3 -s3.port="$S3_PORT" -s3.port.grpc=$((S3_PORT + 10000)) \
      -s3.port.iceberg=0 -s3.port.lance=0 \
      -master.volumeSizeLimitMB=256 -volume.max=32
    info "started SeaweedFS (pid $(read_pid "$S3_PIDFILE"), S3 $S3_ENDPOINT, data in $S3_DIR)"
  fi
  start="$(now_ms)"
  # The bucket (PUT is idempotent for its owner): once it answers 200, the
  # filer and volume server behind the gateway are up too.
  until [[ "$(curl -s -o /dev/null -w '%{http_code}' -m 5 -X PUT "$S3_ENDPOINT/$S3_BUCKET" 2>/dev/null)" =~ ^(200|409)$ ]]; do
    if (($(now_ms) - start > 90000)); then
      tail -n 20 "$S3_LOG" >&2 2>/dev/null || true
      die "SeaweedFS did not serve bucket $S3_BUCKET within 90 s; see $S3_LOG"
    fi
    pid="$(s3_pid)" || { tail -n 20 "$S3_LOG" >&2 2>/dev/null || true; die "SeaweedFS exited; see $S3_LOG"; }
    sleep 0.5
  done
  echo "  s3:              $S3_ENDPOINT  bucket $S3_BUCKET (SeaweedFS, log $S3_LOG)"
}

# s3_down -- stop our weed server, if it runs.
s3_down() {
  local pid
  pid="$(s3_pid)" || return 0
  info "stopping SeaweedFS (pid $pid)"
  stop_pids "$STOP_TIMEOUT" "$pid"
  rm -f "$S3_PIDFILE"
}

# shellcheck shell=bash
# Helpers shared by bench/run and the step files in bench/lib. Source it
# after scripts/lib/common.sh, with ROOT (the checkout) set:
#
#   # shellcheck source=bench/lib/bench.sh
#   . bench/lib/bench.sh
#
# BROKERS and LIBS (the Kafka jars) may be set before; `record` appends to
# $RESULTS, which the caller creates.

BROKERS="${BROKERS:-127.0.0.1:9093,127.0.0.1:9094,127.0.0.1:9095}"
LIBS="${LIBS:-${TAGFLOW_CACHE:-$HOME/.cache/tagflow}/kafka-4.4.0/libs}"
# Every topic of one job: the three inputs and its two outputs.
JOB_TOPICS=(view-events add-to-cart-events purchase-events user-interest-tags-topic dead-letter-events)

# kafka_tool CLASS ARGS... -- run one of Kafka's Java tools.
kafka_tool() {
  java -Xmx256m -cp "$LIBS/*" -Dlog4j2.configurationFile="$ROOT/scripts/kafka/log4j2-tools.properties" "$@"
}

# create_topics PREFIX -- the job's five topics, fresh (3 partitions, RF 3),
# kept whole: the dev stack's brokers keep 256 MiB per partition, and a
# 30 M-event input's view partitions hold 650 MB each, so retention deleted
# half of them under the job of 2026-12-03's ten-million-user runs.
create_topics() {
  local t pids=()
  for t in "${JOB_TOPICS[@]}"; do
    kafka_tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$BROKERS" --create \
      --topic "$1$t" --partitions 3 --replication-factor 3 \
      --config retention.bytes=-1 --config retention.ms=-1 >/dev/null &
    pids+=($!)
  done
  for t in "${pids[@]}"; do wait "$t"; done
}

# assert_whole_input PREFIX -- dies unless every event topic of PREFIX still
# starts at offset 0 (nothing deleted by retention).
assert_whole_input() {
  local trimmed
  trimmed=$(kafka_tool org.apache.kafka.tools.GetOffsetShell --bootstrap-server "$BROKERS" \
    --topic-partitions "${1//./\\.}(view|add-to-cart|purchase)-events" --time -2 |
    awk -F: '$NF != 0')
  [[ -z $trimmed ]] || die "Kafka deleted input events of $1 (earliest offsets): $trimmed"
}

# truncate_outputs PREFIX -- deletes every record of the job's two output
# topics of PREFIX (up to their high watermarks), so that runs reading a
# kept input do not pile up outputs: each 3 M-user run of bench/state added
# about 1 GB per broker, and on 2026-12-04 filled the VM's disk, which
# stopped the brokers mid-series.
truncate_outputs() {
  local json t p parts=()
  for t in user-interest-tags-topic dead-letter-events; do
    for p in 0 1 2; do parts+=("{\"topic\":\"$1$t\",\"partition\":$p,\"offset\":-1}"); done
  done
  json=$(mktemp)
  printf '{"version":1,"partitions":[%s]}\n' "$(IFS=,; echo "${parts[*]}")" >"$json"
  kafka_tool org.apache.kafka.tools.DeleteRecordsCommand --bootstrap-server "$BROKERS" \
    --offset-json-file "$json" >/dev/null || warn "could not truncate the outputs of $1"
  rm -f "$json"
}

# delete_topics PREFIX -- every topic whose name starts with PREFIX.
delete_topics() {
  kafka_tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$BROKERS" --delete \
    --topic "${1//./\\.}.*" >/dev/null 2>&1 || warn "could not delete topics $1*"
}

# record NAME VALUE -- one measurement, for bench/lib/results.py.
record() { printf '%s=%s\n' "$1" "$2" >>"$RESULTS"; }

# metrics_url LOG -- the /metrics URL a dataflow job logged at start ('' before).
metrics_url() { sed 's/\x1b\[[0-9;]*m//g' "$1" | grep -o 'http://[0-9.:]*/metrics' | head -n 1 || true; }

# wait_metrics LOG PID -- wait (up to 120 s) until the job of PID serves
# /metrics, and print its URL; fail if the job exits first.
wait_metrics() {
  local url='' i
  for ((i = 0; i < 1200; i++)); do
    kill -0 "$2" 2>/dev/null || { tail -n 20 "$1" >&2; die "the job exited at start"; }
    url=$(metrics_url "$1")
    [[ -n $url ]] && curl -sf -o /dev/null "$url" && { echo "$url"; return; }
    sleep 0.1
  done
  die "the job serves no /metrics after 120 s"
}

# completed_checkpoints LOG -- "checkpoint completed" lines in a job log.
completed_checkpoints() { sed 's/\x1b\[[0-9;]*m//g' "$1" | grep -c 'checkpoint completed' || true; }

# redis_cpu [PORT] -- CPU seconds the Redis server on PORT (default: the
# stack's, 6379) has used so far. On the stack's shared server other
# clients' load counts too.
redis_cpu() {
  redis-cli -p "${1:-6379}" INFO cpu | tr -d '\r' |
    awk -F: '/^used_cpu_(sys|user):/ { t += $2 } END { printf "%.2f", t }'
}

# redis_forks [PORT] -- background saves and AOF rewrites the Redis server
# on PORT has started so far. Each forks a child that copies the whole
# dataset (all databases) to disk: seconds of CPU and I/O that compete with
# the step running, so steps record how many started during them.
redis_forks() { redis-cli -p "${1:-6379}" INFO stats | tr -d '\r' | sed -n 's/^total_forks://p'; }

# free_port -- a TCP port on 127.0.0.1 that was free a moment ago.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_step_redis NAME -- a Redis server of the step NAME's own, configured
# as the stack's (append-only file, fsync every second, no RDB snapshots),
# with its data in $WORK/redis-NAME, on a free port it sets STEP_REDIS_PORT
# to. A job that starts on an empty server of its own pays for its own data
# only: on a shared server, the data other steps, runs or tests left there
# makes each AOF rewrite (a fork copying every database) longer.
# Appends the server's pid to BG_PIDS, so the cleanup stops it.
start_step_redis() {
  local dir="$WORK/redis-$1" port i
  mkdir -p "$dir"
  port=$(free_port)
  redis-server --bind 127.0.0.1 --port "$port" --dir "$dir" --appendonly yes \
    --appendfsync everysec --save '' --daemonize no --logfile "$dir/redis.log" &
  BG_PIDS+=($!)
  for ((i = 0; i < 100; i++)); do
    # shellcheck disable=SC2034  # read by the caller
    [[ "$(redis-cli -p "$port" PING 2>/dev/null)" == PONG ]] && { STEP_REDIS_PORT=$port; return; }
    sleep 0.1
  done
  tail -n 10 "$dir/redis.log" >&2 || true
  die "the $1 step's redis-server on port $port did not start"
}

# stop_step_redis [PORT] -- stop a server of start_step_redis, dropping its
# data (nothing without a port).
stop_step_redis() {
  if [[ -n "${1:-}" ]]; then redis-cli -p "$1" SHUTDOWN NOSAVE >/dev/null 2>&1 || true; fi
}

# rss_mib FILE, cpu_s FILE -- peak RSS (MiB) and CPU seconds (user+sys) from
# /usr/bin/time -v output.
rss_mib() { awk -F': ' '/Maximum resident set size/ { printf "%.0f", $2 / 1024 }' "$1"; }
cpu_s() {
  awk -F': ' '/User time/ { u = $2 } /System time/ { s = $2 } END { printf "%.2f", u + s }' "$1"
}

# build_release -- release builds of the workspace's binaries into
# $CARGO_TARGET_DIR, copied into $WORK/bin.
build_release() {
  info "building release binaries (cargo, $CARGO_TARGET_DIR)"
  # Other worktrees may build into the same target directory, and cargo
  # does not re-copy a fresh binary into release/: touch the three mains so
  # that this tree's binaries are relinked and copied, then check.
  touch "$WORK/build-start"
  sleep 1
  touch dataflow/src/main.rs simulator/src/main.rs bench/ceiling/src/main.rs bench/latency-probe/src/main.rs
  cargo build --release --workspace --bins --locked
  local bin
  for bin in dataflow simulator consume-ceiling latency-probe; do
    [[ "$CARGO_TARGET_DIR/release/$bin" -nt "$WORK/build-start" ]] ||
      die "$CARGO_TARGET_DIR/release/$bin was not relinked by this build; run again"
  done
  # Run private copies: another build into the same target dir during the
  # run must not swap the binaries under it.
  cp "$CARGO_TARGET_DIR/release/dataflow" "$CARGO_TARGET_DIR/release/simulator" \
    "$CARGO_TARGET_DIR/release/consume-ceiling" "$CARGO_TARGET_DIR/release/latency-probe" "$WORK/bin/"
}

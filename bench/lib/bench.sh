# shellcheck shell=bash
# Helpers shared by bench/run and the step files in bench/lib. Source it
# after scripts/lib/common.sh, with ROOT (the checkout) set:
#
#   # shellcheck source=bench/lib/bench.sh
#   . bench/lib/bench.sh
#
# BROKERS, REDIS (without a database) and LIBS (the Kafka jars) may be set
# before; `record` appends to $RESULTS, which the caller creates.

BROKERS="${BROKERS:-127.0.0.1:9093,127.0.0.1:9094,127.0.0.1:9095}"
REDIS="${REDIS:-redis://127.0.0.1:6379}"
LIBS="${LIBS:-${TAGFLOW_CACHE:-$HOME/.cache/tagflow}/kafka-4.4.0/libs}"
# Every topic of one job: the three inputs and its two outputs.
JOB_TOPICS=(view-events add-to-cart-events purchase-events user-interest-tags-topic dead-letter-events)

# kafka_tool CLASS ARGS... -- run one of Kafka's Java tools.
kafka_tool() {
  java -Xmx256m -cp "$LIBS/*" -Dlog4j2.configurationFile="$ROOT/scripts/kafka/log4j2-tools.properties" "$@"
}

# create_topics PREFIX -- the job's five topics, fresh (3 partitions, RF 3).
create_topics() {
  local t pids=()
  for t in "${JOB_TOPICS[@]}"; do
    kafka_tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$BROKERS" --create \
      --topic "$1$t" --partitions 3 --replication-factor 3 >/dev/null &
    pids+=($!)
  done
  for t in "${pids[@]}"; do wait "$t"; done
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

# redis_cpu -- CPU seconds the Redis server has used so far (it is shared:
# other clients' load counts too, so this is context, not a measurement).
redis_cpu() {
  redis-cli INFO cpu | tr -d '\r' |
    awk -F: '/^used_cpu_(sys|user):/ { t += $2 } END { printf "%.2f", t }'
}

# redis_forks -- background saves and AOF rewrites the Redis server has
# started so far. Each forks a child that copies the whole dataset (all
# databases) to disk: seconds of CPU and I/O that compete with the step
# running, so steps record how many started during them.
redis_forks() { redis-cli INFO stats | tr -d '\r' | sed -n 's/^total_forks://p'; }

# rss_mib FILE, cpu_s FILE -- peak RSS (MiB) and CPU seconds (user+sys) from
# /usr/bin/time -v output.
rss_mib() { awk -F': ' '/Maximum resident set size/ { printf "%.0f", $2 / 1024 }' "$1"; }
cpu_s() {
  awk -F': ' '/User time/ { u = $2 } /System time/ { s = $2 } END { printf "%.2f", u + s }' "$1"
}

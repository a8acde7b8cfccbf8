# shellcheck shell=bash
# The catch-up comparison of bench/run: every system reads the same backlog
# into a Redis server of its own, --runs times, in alternating order; each
# run is timed to its last Redis write and to its exit, and cross-checked
# against the reference run. Sourced by bench/run after bench/lib/bench.sh.
#
# Needs: BIN (our binaries), JVM_JARS (the reference jobs' jars), WORK,
# PREFIX, RUN, JVM_HEAP, WORKERS, RESULTS; sets REF_REDIS_PORT.

# Every system bench/run knows, in the default order of the first round.
ALL_SYSTEMS=ours,flink-rocksdb,flink-heap,kstreams,ours-boards
# Invalid messages added to the backlog; every job must dead-letter each.
INVALID_EVENTS="$ROOT/bench/lib/fixtures/invalid-events.tsv"
REF_REDIS_PORT=''

# produce_invalid_events PREFIX -- the fixture's invalid messages (key TAB
# value) into the view topic, so every run does the dead-letter work too.
produce_invalid_events() {
  kafka_tool org.apache.kafka.tools.ConsoleProducer --bootstrap-server "$BROKERS" \
    --topic "${1}view-events" --property parse.key=true --property "key.separator=	" \
    <"$INVALID_EVENTS" >/dev/null
}

# topic_end TOPIC -- sum of the topic's high watermarks.
topic_end() {
  kafka_tool org.apache.kafka.tools.GetOffsetShell --bootstrap-server "$BROKERS" \
    --topic "${1//./\\.}" --time -1 2>/dev/null | awk -F: '{ n += $3 } END { print n + 0 }'
}

# system_command NAME REDIS_PORT TAG -- the command line of one catch-up run.
system_command() {
  local redis="redis://127.0.0.1:$2" group="bench-$RUN-$3"
  case "$1" in
    ours)
      echo env TAGFLOW_STATE_DIR="$WORK/$3-state" TAGFLOW_CHECKPOINT_DIR="$WORK/$3-checkpoints" \
        "$BIN/dataflow" run --until-caught-up --brokers "$BROKERS" --topic-prefix "$PREFIX" \
        --group-id "$group" --redis "$redis" --workers "$WORKERS" --metrics-addr 127.0.0.1:0 \
        --checkpoint-interval 10s --leaderboards off --dedupe-window 0
      # The reference jobs have no leaderboards and count a resent event
      # again: the same work. bench/ab measures what deduplication costs.
      ;;
    ours-boards) # the same with the leaderboards on: what they cost (issue #19)
      echo env TAGFLOW_STATE_DIR="$WORK/$3-state" TAGFLOW_CHECKPOINT_DIR="$WORK/$3-checkpoints" \
        "$BIN/dataflow" run --until-caught-up --brokers "$BROKERS" --topic-prefix "$PREFIX" \
        --group-id "$group" --redis "$redis" --workers "$WORKERS" --metrics-addr 127.0.0.1:0 \
        --checkpoint-interval 10s --leaderboards on --dedupe-window 0
      ;;
    flink-rocksdb | flink-heap)
      echo java "-Xmx$JVM_HEAP" -jar "$JVM_JARS/flink.jar" --until-caught-up --state-backend "${1#flink-}" \
        --brokers "$BROKERS" --topic-prefix "$PREFIX" --group-id "$group" --redis "$redis" \
        --parallelism "$WORKERS" --checkpoint-dir "$WORK/$3-checkpoints" --checkpoint-interval-ms 10000
      ;;
    kstreams)
      echo java "-Xmx$JVM_HEAP" -jar "$JVM_JARS/kstreams.jar" --until-caught-up \
        --brokers "$BROKERS" --topic-prefix "$PREFIX" --application-id "$group" --redis "$redis" \
        --threads "$WORKERS" --state-dir "$WORK/$3-state" --commit-interval-ms 10000
      ;;
    *) die "unknown system $1" ;;
  esac
}

# run_system NAME ROUND -- one timed catch-up run of system NAME into a fresh
# Redis server; the first run of all is the reference the others are
# compared with, key by key.
run_system() {
  local name=$1 round=$2 tag="$1-r$2" port start end pid redis0 forks0 tags0 dlq0 cmd rc=0
  start_step_redis "$tag"
  port=$STEP_REDIS_PORT
  redis0=$(redis_cpu "$port")
  forks0=$(redis_forks "$port")
  tags0=$(topic_end "${PREFIX}user-interest-tags-topic")
  dlq0=$(topic_end "${PREFIX}dead-letter-events")
  read -r -a cmd <<<"$(system_command "$name" "$port" "$tag")"
  # Kafka Streams' repartition topics are named after its application id.
  if [[ "$name" == kstreams ]]; then CLEAN_PREFIXES+=("bench-$RUN-$tag-"); fi
  settle
  info "$tag: ${cmd[*]}"
  start=$(now_ms)
  /usr/bin/time -v -o "$WORK/$tag.time" "${cmd[@]}" >"$WORK/$tag.out" 2>"$WORK/$tag.log" &
  pid=$!
  python3 bench/lib/last_write.py --port "$port" --pid "$pid" >"$WORK/$tag.last-write" &
  local poller=$!
  wait "$pid" || rc=$?
  end=$(now_ms)
  wait "$poller"
  if ((rc != 0)); then
    tail -n 30 "$WORK/$tag.log" >&2
    die "$tag failed (exit status $rc)"
  fi
  record "run_${tag}_system" "$name"
  record "run_${tag}_round" "$round"
  record "run_${tag}_start_ms" "$start"
  record "run_${tag}_exit_ms" "$end"
  record "run_${tag}_last_write_json" "$(cat "$WORK/$tag.last-write")"
  record "run_${tag}_rss_mib" "$(rss_mib "$WORK/$tag.time")"
  record "run_${tag}_cpu_s" "$(cpu_s "$WORK/$tag.time")"
  record "run_${tag}_redis_cpu_s" "$(awk -v a="$redis0" -v b="$(redis_cpu "$port")" 'BEGIN { printf "%.2f", b - a }')"
  record "run_${tag}_redis_forks" $(($(redis_forks "$port") - forks0))
  record "run_${tag}_interest_tag_messages" $(($(topic_end "${PREFIX}user-interest-tags-topic") - tags0))
  local dead=$(($(topic_end "${PREFIX}dead-letter-events") - dlq0))
  record "run_${tag}_dead_letters" "$dead"
  if [[ "$name" == ours* ]]; then
    record "run_${tag}_checkpoints" "$(completed_checkpoints "$WORK/$tag.log")"
  else
    record "run_${tag}_job_json" "$(tail -n 1 "$WORK/$tag.out")"
  fi
  info "$tag: exit after $((end - start)) ms; last write $(cat "$WORK/$tag.last-write"); $dead dead letters"
  local expected
  expected=$(grep -c . "$INVALID_EVENTS")
  ((dead == expected)) || die "$tag: $dead dead letters, expected $expected"
  if [[ -z "$REF_REDIS_PORT" ]]; then
    REF_REDIS_PORT=$port
    record reference_run "$tag"
    return
  fi
  compare_run "$tag" "$port"
  stop_step_redis "$port"
}

# compare_run TAG PORT -- the run's Redis against the reference run's.
compare_run() {
  local out rc=0
  # The leaderboards (top:*) only ours-boards writes; the tests check them
  # against an independent recomputation.
  out=$(python3 bench/lib/compare_redis.py --url "redis://127.0.0.1:$REF_REDIS_PORT" \
    --url-b "redis://127.0.0.1:$2" --ignore-prefix top: 0 0) || rc=$?
  info "compare $1 with the reference: $out"
  record "run_${1}_compare_json" "$out"
  ((rc == 0)) || die "$1: its Redis results differ from the reference run's (see above)"
}

# check_dead_letters RUNS -- every run dead-lettered the same messages with
# the same reasons: each (reason, source topic, partition, offset) on the
# dead-letter topic exactly RUNS times, one per invalid message.
check_dead_letters() {
  local expected distinct wrong
  expected=$(grep -c . "$INVALID_EVENTS")
  kafka_tool org.apache.kafka.tools.consumer.ConsoleConsumer --bootstrap-server "$BROKERS" \
    --topic "${PREFIX}dead-letter-events" --from-beginning --timeout-ms 10000 \
    --formatter-property print.headers=true 2>/dev/null |
    grep -o 'reason:[a-z_]*\|source\.topic:[^,]*\|source\.partition:[0-9]*\|source\.offset:[0-9]*' |
    paste - - - - | sort | uniq -c >"$WORK/dead-letters.txt"
  distinct=$(wc -l <"$WORK/dead-letters.txt")
  wrong=$(awk -v n="$1" '$1 != n' "$WORK/dead-letters.txt" | wc -l)
  record dead_letters_distinct "$distinct"
  record dead_letters_mismatched "$wrong"
  info "dead letters: $distinct distinct (reason, origin), $wrong not written by every run"
  ((distinct == expected && wrong == 0)) || {
    cat "$WORK/dead-letters.txt" >&2
    die "the runs' dead letters differ (expected $expected messages, each $1 times)"
  }
}

# step_catchup -- RUNS rounds; round r runs the systems rotated by r, so
# that each takes each place in the order.
step_catchup() {
  local systems=(${SYSTEMS//,/ }) n round i
  n=${#systems[@]}
  for ((round = 0; round < RUNS; round++)); do
    for ((i = 0; i < n; i++)); do
      run_system "${systems[$(((i + round) % n))]}" "$round"
    done
  done
  stop_step_redis "$REF_REDIS_PORT"
  # A reused backlog's topic also holds the dead letters of earlier bench/runs.
  if [[ -z "$REUSE" ]]; then check_dead_letters $((RUNS * n)); fi
}

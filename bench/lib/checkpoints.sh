# shellcheck shell=bash
# The `checkpoints` step of bench/run (benchmark issue item 6): checkpoint
# duration, the longest processing pause and recovery time with more than a
# million users in state. Sourced by bench/run, which provides BIN, WORK,
# RUN, CKPT_EVENTS, CKPT_USERS, CKPT_EXTRA, the helpers of
# bench/lib/bench.sh and BG_PIDS / CLEAN_PREFIXES for cleanup. The job
# writes to a Redis server of the step's own (start_step_redis), which
# outlives the kill -9 like a real deployment's Redis.
#
# 1. Produces CKPT_EVENTS fixed-seed events into fresh topics (sessions of 2
#    events over CKPT_USERS uniformly chosen users: 4M events over 2M users
#    leave about 1.26M distinct users in state, the worst case for per-epoch
#    coalescing).
# 2. Runs the job (3 workers, epochs of 200 ms, checkpoints every 10 s) until
#    a checkpoint covers every event; each checkpoint's duration and longest
#    operator pause come from the job's "checkpoint completed" log lines.
# 3. Produces CKPT_EXTRA more events, kills the job with SIGKILL, restarts it
#    with --until-caught-up and times kill -> exit (restore, Redis rewrite if
#    Redis does not hold the checkpoint's outputs, replay after it).
# Topics go in bench/run's cleanup.

# covered DIR -- sum of the offsets of the newest complete checkpoint (0 if none).
covered() {
  python3 - "$1" <<'PY'
import json, os, sys
root, best = sys.argv[1], (0, 0)
for name in os.listdir(root) if os.path.isdir(root) else []:
    path = os.path.join(root, name, "MANIFEST.json")
    if name.isdigit() and os.path.exists(path):
        with open(path) as f:
            m = json.load(f)
        best = max(best, (m["id"], sum(o["next_offset"] for o in m["offsets"])))
print(best[1])
PY
}

step_checkpoints() {
  local prefix="bench-$RUN-ckpt." dir="$WORK/ckpt" pid url users started caught_up killed recovered
  local sim job count max_duration median_duration max_pause max_bytes redis_port
  mkdir -p "$dir"
  start_step_redis checkpoints
  redis_port=$STEP_REDIS_PORT
  info "checkpoints: $CKPT_EVENTS events over $CKPT_USERS users into $prefix* -> its own redis on port $redis_port"
  create_topics "$prefix"
  CLEAN_PREFIXES+=("$prefix")
  sim=("$BIN/simulator" produce --users "$CKPT_USERS" --user-skew 0 --session-events 2
    --products 20000 --start-time 2026-11-25T00:00:00Z --event-time-rate 20000
    --brokers "$BROKERS" --topic-prefix "$prefix" --rate 0 --quiet)
  "${sim[@]}" --seed 5 --count "$CKPT_EVENTS" >&2
  job=("$BIN/dataflow" run --brokers "$BROKERS" --redis "redis://127.0.0.1:$redis_port" --topic-prefix "$prefix"
    --group-id "bench-$RUN-ckpt" --workers 3 --epoch-ms 200 --checkpoint-interval 10s
    --metrics-addr 127.0.0.1:0 --state-dir "$dir/state" --checkpoint-dir "$dir/checkpoints")

  info "checkpoints: catch-up with checkpoints every 10 s"
  started=$(now_ms)
  NO_COLOR=1 RUST_LOG=info "${job[@]}" >"$dir/run1.log" 2>&1 &
  pid=$!
  BG_PIDS+=("$pid")
  until (($(covered "$dir/checkpoints") >= CKPT_EVENTS)); do
    kill -0 "$pid" 2>/dev/null || { tail -n 20 "$dir/run1.log" >&2; die "the checkpoints job died"; }
    sleep 0.5
  done
  caught_up=$(now_ms)
  url=$(metrics_url "$dir/run1.log")
  users=$(curl -s "$url" | awk '/^tagflow_state_keys\{kind="users"\}/ { print $2 }')

  info "checkpoints: $CKPT_EXTRA more events, then kill -9"
  "${sim[@]}" --seed 6 --count "$CKPT_EXTRA" >&2
  kill -9 "$pid"
  killed=$(now_ms)
  wait "$pid" 2>/dev/null || true
  NO_COLOR=1 RUST_LOG=info "${job[@]}" --until-caught-up >"$dir/run2.log" 2>&1 ||
    { tail -n 20 "$dir/run2.log" >&2; die "the restarted checkpoints job failed"; }
  recovered=$(now_ms)

  # One line per checkpoint: duration_ms longest_pause_us bytes
  grep 'checkpoint completed' "$dir/run1.log" |
    sed -E 's/.*bytes=([0-9]+).*duration_ms=([0-9]+) longest_pause_us=([0-9]+).*/\2 \3 \1/' >"$dir/checkpoints.txt"
  read -r count max_duration median_duration max_pause max_bytes < <(sort -n "$dir/checkpoints.txt" | awk '
    { d[NR] = $1; if ($2 > p) p = $2; if ($3 > b) b = $3 }
    END { printf "%d %d %d %.1f %d\n", NR, d[NR], d[int((NR + 1) / 2)], p / 1000, b }')
  record ckpt_events "$CKPT_EVENTS"
  record ckpt_extra_events "$CKPT_EXTRA"
  record ckpt_users_in_state "$users"
  record ckpt_catch_up_ms "$((caught_up - started))"
  record ckpt_count "$count"
  record ckpt_duration_ms_median "$median_duration"
  record ckpt_duration_ms_max "$max_duration"
  record ckpt_longest_pause_ms "$max_pause"
  record ckpt_bytes_max "$max_bytes"
  record ckpt_recovery_ms "$((recovered - killed))"
  record ckpt_restore_per_worker "$(grep -o 'state restored.*elapsed=[0-9.]*[a-zµ]*s' "$dir/run2.log" |
    sed -E 's/.*elapsed=//' | paste -sd/ || true)"
  record ckpt_redis_rewritten "$(grep -q 'Redis rewritten' "$dir/run2.log" && echo yes || echo no)"
  info "checkpoints: $count checkpoints, median/max $median_duration/$max_duration ms, pause $max_pause ms, kill -9 -> caught up $((recovered - killed)) ms"
  stop_step_redis "$redis_port"
}

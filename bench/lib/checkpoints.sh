# shellcheck shell=bash
# The `checkpoints` step of bench/run (benchmark issue item 6): checkpoint
# duration, the longest processing pause and recovery time with more than a
# million users in state. Sourced by bench/run, which provides BIN, WORK,
# RUN, CKPT_EVENTS, CKPT_USERS, CKPT_EXTRA, CKPT_STEADY_RATE,
# CKPT_STEADY_SECONDS, the helpers of
# bench/lib/bench.sh and BG_PIDS / CLEAN_PREFIXES for cleanup. The job
# writes to a Redis server of the step's own (start_step_redis), which
# outlives the kill -9 like a real deployment's Redis.
#
# 1. Produces CKPT_EVENTS fixed-seed events into fresh topics (sessions of 2
#    events over CKPT_USERS uniformly chosen users: 4M events over 2M users
#    leave about 1.26M distinct users in state, the worst case for per-epoch
#    coalescing).
# 2. Runs the job (3 workers, epochs of 200 ms, checkpoints every 10 s) until
#    a checkpoint covers every event; each checkpoint's duration, longest
#    operator pause (wall time, and the part of it the thread held a core)
#    and the slowest worker's phases come from the job's "checkpoint
#    completed" log lines (bench/lib/checkpoint_log.py); the p99 of every
#    stop's working part from its tagflow_checkpoint_stop_working_seconds
#    histogram (bench/lib/stop_quantile.py).
# 3. Steady state with that state: CKPT_STEADY_SECONDS of events at
#    CKPT_STEADY_RATE events/s (0: skipped) while the job keeps up; the
#    checkpoints completed in that window (the first one, begun during the
#    catch-up, left out) are summarised apart.
# 4. Produces CKPT_EXTRA more events, kills the job with SIGKILL, restarts it
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
  local sim job count max_duration median_duration max_pause max_working max_bytes phases redis_port
  local before_steady stops stop_p99 steady_stops steady_p99
  mkdir -p "$dir"
  start_step_redis checkpoints
  redis_port=$STEP_REDIS_PORT
  info "checkpoints: $CKPT_EVENTS events over $CKPT_USERS users into $prefix* -> its own redis on port $redis_port"
  create_topics "$prefix"
  CLEAN_PREFIXES+=("$prefix")
  sim=("$BIN/simulator" produce --users "$CKPT_USERS" --user-skew 0 --session-events 2
    --products 20000 --start-time 2026-11-25T00:00:00Z --event-time-rate 20000
    --brokers "$BROKERS" --topic-prefix "$prefix" --quiet)
  "${sim[@]}" --rate 0 --seed 5 --count "$CKPT_EVENTS" >&2
  job=("$BIN/dataflow" run --brokers "$BROKERS" --redis "redis://127.0.0.1:$redis_port" --topic-prefix "$prefix"
    --group-id "bench-$RUN-ckpt" --workers 3 --epoch-ms 200 --checkpoint-interval 10s
    --metrics-addr 127.0.0.1:0 --state-dir "$dir/state" --checkpoint-dir "$dir/checkpoints")

  info "checkpoints: catch-up with checkpoints every 10 s"
  started=$(now_ms)
  # Each operator's "snapshot delivered" line (debug) says which one a slow
  # checkpoint waited for.
  NO_COLOR=1 RUST_LOG=info,dataflow::checkpointing::coordinator=debug,state::checkpoint::part=debug "${job[@]}" >"$dir/run1.log" 2>&1 &
  pid=$!
  BG_PIDS+=("$pid")
  until (($(covered "$dir/checkpoints") >= CKPT_EVENTS)); do
    kill -0 "$pid" 2>/dev/null || { tail -n 20 "$dir/run1.log" >&2; die "the checkpoints job died"; }
    sleep 0.5
  done
  caught_up=$(now_ms)
  assert_whole_input "$prefix"
  url=$(metrics_url "$dir/run1.log")
  curl -s "$url" >"$dir/metrics-caught-up"
  users=$(awk '/^tagflow_state_keys\{kind="users"\}/ { print $2 }' "$dir/metrics-caught-up")
  # Every stop's working part (not only each boundary's longest): its p99.
  read -r stops stop_p99 < <(python3 bench/lib/stop_quantile.py "$dir/metrics-caught-up")

  if ((CKPT_STEADY_RATE > 0 && CKPT_STEADY_SECONDS > 0)); then
    info "checkpoints: steady state, $CKPT_STEADY_SECONDS s at $CKPT_STEADY_RATE events/s; load average $(cut -d' ' -f1-3 /proc/loadavg)"
    before_steady=$(grep -c 'checkpoint completed' "$dir/run1.log" || true)
    "${sim[@]}" --rate "$CKPT_STEADY_RATE" --seed 7 --count "$((CKPT_STEADY_RATE * CKPT_STEADY_SECONDS))" >&2
    read -r count median_duration max_duration max_pause max_working max_bytes phases < <(
      python3 bench/lib/checkpoint_log.py "$dir/run1.log" "$((before_steady + 1))")
    record ckpt_steady_rate "$CKPT_STEADY_RATE"
    record ckpt_steady_seconds "$CKPT_STEADY_SECONDS"
    record ckpt_steady_count "$count"
    record ckpt_steady_duration_ms_median "$median_duration"
    record ckpt_steady_duration_ms_max "$max_duration"
    record ckpt_steady_longest_pause_ms "$max_pause"
    record ckpt_steady_longest_working_pause_ms "$max_working"
    record ckpt_steady_phases_ms "$phases"
    curl -s "$url" >"$dir/metrics-steady"
    read -r steady_stops steady_p99 < <(
      python3 bench/lib/stop_quantile.py "$dir/metrics-steady" "$dir/metrics-caught-up")
    record ckpt_steady_stops "$steady_stops"
    record ckpt_steady_stop_working_p99_ms "$steady_p99"
    record ckpt_steady_loadavg_end "$(cut -d' ' -f1 /proc/loadavg)"
    info "checkpoints: steady state: $count checkpoints, median/max $median_duration/$max_duration ms, pause $max_pause ms (working $max_working ms; p99 of $steady_stops stops' working part <= $steady_p99 ms), phases (snapshot/queued/commit/files/outputs) $phases ms"
  fi

  info "checkpoints: $CKPT_EXTRA more events, then kill -9"
  "${sim[@]}" --rate 0 --seed 6 --count "$CKPT_EXTRA" >&2
  kill -9 "$pid"
  killed=$(now_ms)
  wait "$pid" 2>/dev/null || true
  NO_COLOR=1 RUST_LOG=info "${job[@]}" --until-caught-up >"$dir/run2.log" 2>&1 ||
    { tail -n 20 "$dir/run2.log" >&2; die "the restarted checkpoints job failed"; }
  recovered=$(now_ms)

  # The catch-up's checkpoints.
  read -r count median_duration max_duration max_pause max_working max_bytes phases < <(
    python3 bench/lib/checkpoint_log.py "$dir/run1.log" 0 "${before_steady:-}")
  record ckpt_events "$CKPT_EVENTS"
  record ckpt_extra_events "$CKPT_EXTRA"
  record ckpt_users_in_state "$users"
  record ckpt_catch_up_ms "$((caught_up - started))"
  record ckpt_count "$count"
  record ckpt_duration_ms_median "$median_duration"
  record ckpt_duration_ms_max "$max_duration"
  record ckpt_longest_pause_ms "$max_pause"
  record ckpt_longest_working_pause_ms "$max_working"
  record ckpt_phases_ms "$phases"
  record ckpt_stops "$stops"
  record ckpt_stop_working_p99_ms "$stop_p99"
  record ckpt_bytes_max "$max_bytes"
  record ckpt_recovery_ms "$((recovered - killed))"
  record ckpt_restore_per_worker "$(grep -o 'state restored.*elapsed=[0-9.]*[a-zµ]*s' "$dir/run2.log" |
    sed -E 's/.*elapsed=//' | paste -sd/ || true)"
  record ckpt_redis_rewritten "$(grep -q 'Redis rewritten' "$dir/run2.log" && echo yes || echo no)"
  info "checkpoints: catch-up: $count checkpoints, median/max $median_duration/$max_duration ms, pause $max_pause ms (working $max_working ms; p99 of $stops stops' working part <= $stop_p99 ms), phases (snapshot/queued/commit/files/outputs) $phases ms; kill -9 -> caught up $((recovered - killed)) ms"
  stop_step_redis "$redis_port"
}

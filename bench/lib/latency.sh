# shellcheck shell=bash
# The `latency` step of bench/run (benchmark issue item 5): our job's
# steady-state end-to-end latency with the simulator producing in real time.
# Sourced by bench/run, which provides BIN, WORK, RUN, SEED, USERS, PRODUCTS,
# LATENCY_RATES, LATENCY_SECONDS, LATENCY_WARMUP, the helpers of
# bench/lib/bench.sh and BG_PIDS / CLEAN_PREFIXES for its cleanup.
#
# One `dataflow run` (unbounded, 3 workers, checkpoints every 10 s) on fresh
# topics and a Redis server of its own (start_step_redis); for each rate R,
# `simulator produce --rate R --wall-clock-timestamps` and `latency-probe`
# start together; after LATENCY_WARMUP seconds the job's /metrics is
# scraped, again LATENCY_SECONDS later; bench/lib/latency.py turns the two
# scrapes, the probe's JSON and the simulator's last line into
# `latency_<R>_json`. Between rates the job drains its lag (up to 120 s).
# Topics go in bench/run's cleanup.

# job_lag URL -- the job's total consumer lag now.
job_lag() { curl -sf "$1" | awk '/^tagflow_consumer_lag\{/ { n += $2 } END { print n + 0 }'; }

# latency_rate URL DIR RATE PREFIX REDIS_URL -- one rate's window on topics
# PREFIX*, the job writing to REDIS_URL; records latency_<RATE>_json and
# latency_<RATE>_drain_s.
# shellcheck disable=SC2153 # LATENCY_RATES and the others come from bench/run
latency_rate() {
  local url=$1 dir=$2 rate=$3 prefix=$4 redis=$5 sim probe out i window_start window_end
  info "latency: $rate events/s: ${LATENCY_WARMUP}s warm-up, ${LATENCY_SECONDS}s measured"
  "$BIN/simulator" produce --seed "$SEED" --users "$USERS" --products "$PRODUCTS" \
    --rate "$rate" --duration "$((LATENCY_WARMUP + LATENCY_SECONDS + 2))s" --wall-clock-timestamps \
    --brokers "$BROKERS" --topic-prefix "$prefix" --quiet >"$dir/sim-$rate.out" 2>"$dir/sim-$rate.log" &
  sim=$!
  BG_PIDS+=("$sim")
  "$BIN/latency-probe" --brokers "$BROKERS" --topic-prefix "$prefix" --redis "$redis" \
    --user "latency-probe-$RUN-$rate" --warmup "${LATENCY_WARMUP}s" --duration "${LATENCY_SECONDS}s" \
    >"$dir/probe-$rate.json" 2>"$dir/probe-$rate.log" &
  probe=$!
  BG_PIDS+=("$probe")
  sleep "$LATENCY_WARMUP"
  window_start=$(now_ms)
  curl -sf "$url" >"$dir/metrics-$rate-before.txt" || die "cannot scrape $url"
  sleep "$LATENCY_SECONDS"
  curl -sf "$url" >"$dir/metrics-$rate-after.txt" || die "cannot scrape $url"
  window_end=$(now_ms)
  wait "$probe" || { cat "$dir/probe-$rate.log" >&2; warn "latency-probe failed at $rate events/s"; }
  wait "$sim" || { tail -n 5 "$dir/sim-$rate.log" >&2; warn "the simulator failed at $rate events/s"; }
  out=$(python3 bench/lib/latency.py window "$dir/metrics-$rate-before.txt" "$dir/metrics-$rate-after.txt" \
    "$(awk -v a="$window_start" -v b="$window_end" 'BEGIN { printf "%.3f", (b - a) / 1000 }')" "$(tail -n 1 "$dir/probe-$rate.json")" "$(tail -n 1 "$dir/sim-$rate.out")")
  record "latency_${rate}_json" "$out"
  info "latency: $rate events/s: $out"
  # Seconds from the end of the window until the job has no lag (up to 120 s).
  for ((i = 0; i < 1200; i++)); do
    (($(job_lag "$url") == 0)) && break
    sleep 0.1
  done
  record "latency_${rate}_drain_s" "$(elapsed_s "$window_end")"
}

step_latency() {
  local prefix="bench-$RUN-latency." dir="$WORK/latency" url rate redis_port
  start_step_redis latency
  redis_port=$STEP_REDIS_PORT
  info "latency: dataflow run --workers 3 (unbounded) on $prefix* -> its own redis on port $redis_port"
  mkdir -p "$dir"
  create_topics "$prefix"
  CLEAN_PREFIXES+=("$prefix")
  NO_COLOR=1 RUST_LOG=info "$BIN/dataflow" run --brokers "$BROKERS" --topic-prefix "$prefix" \
    --group-id "bench-$RUN-latency" --redis "redis://127.0.0.1:$redis_port" --workers 3 \
    --metrics-addr 127.0.0.1:0 --checkpoint-interval 10s \
    --state-dir "$dir/state" --checkpoint-dir "$dir/checkpoints" >"$dir/job.log" 2>&1 &
  LATENCY_JOB=$!
  BG_PIDS+=("$LATENCY_JOB")
  url=$(wait_metrics "$dir/job.log" "$LATENCY_JOB")
  for rate in ${LATENCY_RATES//,/ }; do
    kill -0 "$LATENCY_JOB" 2>/dev/null || { tail -n 20 "$dir/job.log" >&2; die "the job died"; }
    latency_rate "$url" "$dir" "$rate" "$prefix" "redis://127.0.0.1:$redis_port"
  done
  kill -TERM "$LATENCY_JOB"
  wait "$LATENCY_JOB" || warn "the latency job exited with $?"
  record latency_checkpoints "$(completed_checkpoints "$dir/job.log")"
  record latency_rates "$LATENCY_RATES"
  record latency_seconds "$LATENCY_SECONDS"
  record latency_warmup_s "$LATENCY_WARMUP"
  stop_step_redis "$redis_port"
}

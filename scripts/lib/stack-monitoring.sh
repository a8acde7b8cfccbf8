# shellcheck shell=bash
# Monitoring part of scripts/stack (up --monitoring): Debian's prometheus
# with deploy/prometheus/prometheus-local.yml (the project's rules; it
# scrapes the job on 127.0.0.1:9464 and the API on 127.0.0.1:3000) on
# 127.0.0.1:9090, and Debian's prometheus-alertmanager on 127.0.0.1:9193
# (9093 and 9094, its defaults, are Kafka's here; its cluster port is off)
# with the configuration rendered from deploy/alertmanager/alertmanager.yml.tmpl
# and the TAGFLOW_ALERT_* variables. TAGFLOW_PROMETHEUS_PORT and
# TAGFLOW_ALERTMANAGER_PORT choose other ports. Data, configuration and logs
# in <state>/monitoring. Sourced by scripts/stack.

PROMETHEUS_PORT="${TAGFLOW_PROMETHEUS_PORT:-9090}"
ALERTMANAGER_PORT="${TAGFLOW_ALERTMANAGER_PORT:-9193}"
MONITORING_DIR="$STATE_DIR/monitoring"
DEPLOY_DIR="$(cd "$SCRIPTS_DIR/../deploy" && pwd)"
PROMETHEUS_PIDFILE="$MONITORING_DIR/prometheus.pid"
ALERTMANAGER_PIDFILE="$MONITORING_DIR/alertmanager.pid"
PROMETHEUS_LOG="$MONITORING_DIR/prometheus.log"
ALERTMANAGER_LOG="$MONITORING_DIR/alertmanager.log"
ALERTMANAGER_CONFIG="$MONITORING_DIR/alertmanager.yml"
PROMETHEUS_CONFIG="$MONITORING_DIR/prometheus.yml"
MONITORING_TIMEOUT=30

# monitoring_pid NAME -- pid of our prometheus or alertmanager; fails if it
# is not running. Ours = the pid file's process has our data directory on
# its command line (a recycled pid never does).
monitoring_pid() {
  local pidfile pid
  case "$1" in
    prometheus) pidfile="$PROMETHEUS_PIDFILE" ;;
    alertmanager) pidfile="$ALERTMANAGER_PIDFILE" ;;
  esac
  pid="$(read_pid "$pidfile")" || return 1
  pid_alive "$pid" && [[ "$(pid_cmdline "$pid")" == *"$MONITORING_DIR/"* ]] && echo "$pid"
}

# monitoring_ready NAME PORT -- true when its /-/ready answers 200.
monitoring_ready() {
  [[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$2/-/ready" 2>/dev/null)" == 200 ]]
}

# render_alertmanager_config -- (re)write $ALERTMANAGER_CONFIG from the
# template and the environment, and check it with amtool.
render_alertmanager_config() {
  mkdir -p "$MONITORING_DIR"
  sh "$DEPLOY_DIR/alertmanager/render-config" \
    "$DEPLOY_DIR/alertmanager/alertmanager.yml.tmpl" "$ALERTMANAGER_CONFIG" \
    || die "cannot render Alertmanager's configuration (see docs/configuration.md#alerting)"
  amtool check-config "$ALERTMANAGER_CONFIG" >/dev/null \
    || die "amtool rejects $ALERTMANAGER_CONFIG: $(amtool check-config "$ALERTMANAGER_CONFIG" 2>&1 | tail -3)"
  if [[ -z "${TAGFLOW_ALERT_WEBHOOK_URL:-}" && -z "${TAGFLOW_ALERT_EMAIL_TO:-}" ]]; then
    warn "neither TAGFLOW_ALERT_WEBHOOK_URL nor TAGFLOW_ALERT_EMAIL_TO is set: alerts will reach nobody"
  fi
}

# write_prometheus_config -- prometheus-local.yml with the rule file's
# absolute path and Alertmanager's port, checked with promtool.
write_prometheus_config() {
  local source="$DEPLOY_DIR/prometheus/prometheus-local.yml"
  grep -q '"127.0.0.1:9193"' "$source" || die "$source no longer names Alertmanager as \"127.0.0.1:9193\""
  sed -e "s|^  - alerts.yml\$|  - $DEPLOY_DIR/prometheus/alerts.yml|" \
    -e "s|\"127.0.0.1:9193\"|\"127.0.0.1:$ALERTMANAGER_PORT\"|" "$source" >"$PROMETHEUS_CONFIG"
  promtool check config "$PROMETHEUS_CONFIG" >/dev/null \
    || die "promtool rejects $PROMETHEUS_CONFIG: $(promtool check config "$PROMETHEUS_CONFIG" 2>&1 | tail -3)"
}

# start_monitoring -- start prometheus and alertmanager unless ours run
# (running ones re-read their configuration, rendered anew from the current
# environment), then wait until both are ready.
start_monitoring() {
  if ! have prometheus || ! have promtool || ! have prometheus-alertmanager || ! have amtool; then
    "$SCRIPTS_DIR/install-deps" --stack-only --prometheus || exit 1
  fi
  local port pid holder ours
  mapfile -t ours < <(monitoring_pids)
  for port in "$PROMETHEUS_PORT" "$ALERTMANAGER_PORT"; do
    if holder="$(port_held_by_other "$port" "${ours[@]}")"; then
      die "port $port is in use by $holder; stop it first"
    fi
  done
  render_alertmanager_config
  write_prometheus_config
  if pid="$(monitoring_pid alertmanager)"; then
    kill -HUP "$pid"
    info "alertmanager (pid $pid) re-read its configuration"
  else
    launch_detached "$MONITORING_DIR" "$ALERTMANAGER_PIDFILE" "$ALERTMANAGER_LOG" \
      prometheus-alertmanager --config.file="$ALERTMANAGER_CONFIG" \
      --storage.path="$MONITORING_DIR/alertmanager/" \
      --web.listen-address="127.0.0.1:$ALERTMANAGER_PORT" --cluster.listen-address=
    info "started alertmanager (pid $(read_pid "$ALERTMANAGER_PIDFILE"), 127.0.0.1:$ALERTMANAGER_PORT)"
  fi
  if pid="$(monitoring_pid prometheus)"; then
    kill -HUP "$pid"
  else
    launch_detached "$MONITORING_DIR" "$PROMETHEUS_PIDFILE" "$PROMETHEUS_LOG" \
      prometheus --config.file="$PROMETHEUS_CONFIG" \
      --storage.tsdb.path="$MONITORING_DIR/prometheus/" \
      --web.listen-address="127.0.0.1:$PROMETHEUS_PORT"
    info "started prometheus (pid $(read_pid "$PROMETHEUS_PIDFILE"), 127.0.0.1:$PROMETHEUS_PORT)"
  fi
  wait_for_monitoring "$MONITORING_TIMEOUT"
}

# wait_for_monitoring TIMEOUT_S -- until both answer /-/ready.
wait_for_monitoring() {
  local start name port
  start="$(now_ms)"
  for name in alertmanager prometheus; do
    port="$ALERTMANAGER_PORT"
    [[ "$name" == prometheus ]] && port="$PROMETHEUS_PORT"
    until monitoring_ready "$name" "$port"; do
      if ! monitoring_pid "$name" >/dev/null; then
        tail -n 15 "$MONITORING_DIR/$name.log" >&2 2>/dev/null || true
        die "$name is not running; see $MONITORING_DIR/$name.log"
      fi
      (($(now_ms) - start < $1 * 1000)) || die "$name not ready within $1 s; see $MONITORING_DIR/$name.log"
      sleep 0.2
    done
  done
}

# monitoring_pids -- pids of our running prometheus and alertmanager.
monitoring_pids() {
  monitoring_pid prometheus || true
  monitoring_pid alertmanager || true
}

# forget_monitoring_pids -- after a stop.
forget_monitoring_pids() { rm -f "$PROMETHEUS_PIDFILE" "$ALERTMANAGER_PIDFILE"; }

# monitoring_status_lines -- status rows (only when monitoring was started).
monitoring_status_lines() {
  local name port pid state
  [[ -f "$PROMETHEUS_PIDFILE" || -f "$ALERTMANAGER_PIDFILE" ]] || return 0
  for name in prometheus alertmanager; do
    port="$PROMETHEUS_PORT"
    [[ "$name" == alertmanager ]] && port="$ALERTMANAGER_PORT"
    state=stopped
    if pid="$(monitoring_pid "$name")"; then
      state=starting
      monitoring_ready "$name" "$port" && state=running
    else
      pid=-
    fi
    printf '%-7s %-8s %-8s %-12s %s\n' "$name" "$state" "$pid" "$port" "$MONITORING_DIR/$name.log"
  done
}

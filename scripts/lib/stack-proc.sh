# shellcheck shell=bash
# Process and port helpers for scripts/stack: pid files, liveness, who holds
# a TCP port, and stopping processes politely. Sourced by scripts/stack.

# read_pid FILE -- print the pid stored in FILE; fails if there is none.
read_pid() {
  local pid=''
  [[ -r "$1" ]] && read -r pid <"$1" 2>/dev/null
  [[ "$pid" =~ ^[0-9]+$ ]] && echo "$pid"
}

# pid_alive PID -- true while PID runs (a zombie counts as dead).
pid_alive() {
  local st
  st="$(ps -o stat= -p "$1" 2>/dev/null)" || return 1
  [[ -n "$st" && "$st" != Z* ]]
}

# pid_cmdline PID -- the command line of PID, arguments joined by spaces.
pid_cmdline() { tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null; }

# short_cmdline PID -- the command line of PID, squeezed to at most ~150
# characters: the start and the end (where java's main class and config are).
short_cmdline() {
  local c
  c="$(pid_cmdline "$1" | tr -s ' ')"
  c="${c% }"
  ((${#c} <= 150)) || c="${c:0:50} ... ${c: -95}"
  echo "$c"
}

# port_listeners PORT -- `ss` lines of the TCP sockets listening on PORT, on
# any address (127.0.0.1:P cannot be bound while 0.0.0.0:P is taken).
port_listeners() { ss -Hltnp "sport = :$1" 2>/dev/null || true; }

# port_pids PORT -- pids of the processes listening on PORT (needs root to
# see other users' processes).
port_pids() { port_listeners "$1" | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u; }

# port_listening PORT -- true when something listens on PORT.
port_listening() { [[ -n "$(port_listeners "$1")" ]]; }

# port_held_by_other PORT OUR_PID... -- when PORT is held by a process that is
# not one of OUR_PIDs, print a description of the holder and succeed.
port_held_by_other() {
  local port="$1" line pid ours
  shift
  line="$(port_listeners "$port")"
  [[ -n "$line" ]] || return 1
  for pid in $(port_pids "$port"); do
    for ours in "$@"; do [[ "$pid" == "$ours" ]] && continue 2; done
    echo "pid $pid ($(short_cmdline "$pid")): $line"
    return 0
  done
  # Listening, but no pid visible (another user's process and we are not root).
  if [[ -z "$(port_pids "$port")" ]]; then
    echo "$line"
    return 0
  fi
  return 1
}

# stop_pids TIMEOUT_S PID... -- SIGTERM the PIDs, wait up to TIMEOUT_S for
# them to exit, then SIGKILL what is left. Prints nothing.
stop_pids() {
  local timeout="$1" pid left deadline
  shift
  (($#)) || return 0
  kill -TERM "$@" 2>/dev/null || true
  deadline=$(($(now_ms) + timeout * 1000))
  while (($(now_ms) < deadline)); do
    left=0
    for pid in "$@"; do pid_alive "$pid" && left=1; done
    ((left)) || return 0
    sleep 0.2
  done
  for pid in "$@"; do
    if pid_alive "$pid"; then
      warn "pid $pid did not stop within ${timeout}s; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
}

# launch_detached DIR PIDFILE LOGFILE CMD... -- run CMD in directory DIR and
# in its own session (so a Ctrl-C or a closing terminal does not reach it),
# stdin from /dev/null, stdout+stderr appended to LOGFILE. The process writes
# its own pid to PIDFILE before exec'ing CMD, so the pid is exact. Every other
# inherited file descriptor is closed first: the daemon must not keep our lock
# (fd 9) or a caller's pipe open (a test harness reading our output would
# never see EOF). Waits for the pid file.
launch_detached() {
  local dir="$1" pidfile="$2" logfile="$3" i
  shift 3
  rm -f "$pidfile"
  # shellcheck disable=SC2016  # $$, $fd and $@ expand in the child bash
  setsid bash -c '
    echo $$ >"$0"
    cd "$1" || exit 1
    shift
    for fd in /proc/$$/fd/*; do
      fd=${fd##*/}
      ((fd > 2)) && eval "exec $fd>&-"
    done
    exec "$@"' "$pidfile" "$dir" "$@" </dev/null >>"$logfile" 2>&1 &
  for ((i = 0; i < 50; i++)); do
    read_pid "$pidfile" >/dev/null && return 0
    sleep 0.1
  done
  die "could not start: $* (no pid file $pidfile; see $logfile)"
}

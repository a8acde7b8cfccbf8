# shellcheck shell=bash
# Shared helpers for tagflow's bash scripts. Source it, do not run it:
#
#   # shellcheck source=scripts/lib/common.sh
#   . "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
#
# Provides logging (info/warn/die), a monotonic-ish clock, small apt
# helpers used by scripts/install-deps and scripts/stack, and the parsing of
# durations and long flags used by scripts/dev.

# Guard against double sourcing.
[[ -n "${_TAGFLOW_COMMON_SH:-}" ]] && return 0
_TAGFLOW_COMMON_SH=1

# Name shown in front of every message (the calling script's name).
TAGFLOW_LOG_PREFIX="${TAGFLOW_LOG_PREFIX:-$(basename "$0")}"

# Colours only when stderr is a terminal and NO_COLOR is unset.
if [[ -t 2 && -z "${NO_COLOR:-}" ]]; then
  _c_info=$'\e[1;34m' _c_warn=$'\e[1;33m' _c_err=$'\e[1;31m' _c_off=$'\e[0m'
else
  _c_info='' _c_warn='' _c_err='' _c_off=''
fi

# info MSG...  -- progress message on stderr (stdout stays for data).
info() { printf '%s[%s]%s %s\n' "$_c_info" "$TAGFLOW_LOG_PREFIX" "$_c_off" "$*" >&2; }

# warn MSG...  -- something odd but not fatal.
warn() { printf '%s[%s] warning:%s %s\n' "$_c_warn" "$TAGFLOW_LOG_PREFIX" "$_c_off" "$*" >&2; }

# die MSG...   -- print an error and exit 1 (or $DIE_CODE when set).
die() {
  printf '%s[%s] error:%s %s\n' "$_c_err" "$TAGFLOW_LOG_PREFIX" "$_c_off" "$*" >&2
  exit "${DIE_CODE:-1}"
}

# have CMD     -- true when CMD is on PATH.
have() { command -v "$1" >/dev/null 2>&1; }

# now_ms       -- milliseconds since the epoch (bash 5 EPOCHREALTIME).
now_ms() {
  local t="${EPOCHREALTIME/[.,]/}"
  echo $((t / 1000))
}

# elapsed_s START_MS -- seconds since START_MS with one decimal, e.g. "12.3".
elapsed_s() {
  local d=$(($(now_ms) - $1))
  printf '%d.%d' $((d / 1000)) $((d % 1000 / 100))
}

# java_major [JAVA] -- feature version of a java binary (17, 21, ...), or 0.
java_major() {
  local v
  v="$("${1:-java}" -version 2>&1 | awk -F'"' '/version/ {print $2; exit}')" || true
  v="${v#1.}"
  v="${v%%[.+-]*}"
  [[ "$v" =~ ^[0-9]+$ ]] && echo "$v" || echo 0
}

# is_root      -- true when running as uid 0.
is_root() { [[ "$(id -u)" -eq 0 ]]; }

# pkg_installed PKG -- true when the Debian package PKG is installed.
pkg_installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q '^install ok installed$'
}

# apt_install PKG... -- install Debian packages non-interactively.
# Runs `apt-get update` at most once per process. When not root, prints the
# command to run and exits 1.
_TAGFLOW_APT_UPDATED=''
apt_install() {
  (($# > 0)) || return 0
  if ! is_root; then
    die "missing Debian packages: $*
  install them with:  sudo apt-get update && sudo apt-get install -y $*"
  fi
  export DEBIAN_FRONTEND=noninteractive
  if [[ -z "$_TAGFLOW_APT_UPDATED" ]]; then
    info "apt-get update"
    apt-get update -qq || die "apt-get update failed"
    _TAGFLOW_APT_UPDATED=1
  fi
  info "apt-get install -y $*"
  apt-get install -y -qq --no-install-recommends "$@" >/dev/null \
    || die "apt-get install failed for: $*"
}

# duration_ms DURATION -- milliseconds in DURATION: a whole number with an
# optional unit ms, s (the default), m or h (90, 30s, 500ms, 5m, 1h).
# Returns 1 for anything else.
duration_ms() {
  [[ "$1" =~ ^([0-9]+)(ms|s|m|h)?$ ]] || return 1
  local n="${BASH_REMATCH[1]}" unit="${BASH_REMATCH[2]:-s}"
  n=$((10#$n))
  case "$unit" in
    ms) echo "$n" ;;
    s) echo $((n * 1000)) ;;
    m) echo $((n * 60000)) ;;
    h) echo $((n * 3600000)) ;;
  esac
}

# has_flag NAME ARG... -- true when ARGs contain the long flag NAME, as
# `NAME VALUE` or `NAME=VALUE`.
has_flag() {
  local name="$1" arg
  shift
  for arg in "$@"; do
    [[ "$arg" == "$name" || "$arg" == "$name="* ]] && return 0
  done
  return 1
}

# flag_value NAME ARG... -- the value of the last NAME among ARGs (`NAME
# VALUE` or `NAME=VALUE`); returns 1 when NAME is absent.
flag_value() {
  local name="$1" value='' found=''
  shift
  while (($#)); do
    case "$1" in
      "$name") (($# >= 2)) && value="$2" found=1 && shift ;;
      "$name="*) value="${1#"$name"=}" found=1 ;;
    esac
    shift
  done
  [[ -n "$found" ]] || return 1
  echo "$value"
}

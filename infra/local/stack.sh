#!/usr/bin/env bash
# Local service stack on loopback: moto (AWS) and localstripe (Stripe v1, 2017 shape), plus
# fake_stripe_admin.py (Stripe v2 event destinations, v1 webhook endpoints mapped onto
# localstripe, EventBridge ListEventSources) when both are started.
#
#   infra/local/stack.sh start [moto] [localstripe]   # default: all three; writes .local/stack.env
#   infra/local/stack.sh stop                         # stops exactly the pids it started
#   infra/local/stack.sh status                       # prints the env file, checks pids
#   infra/local/stack.sh run -- CMD [ARGS...]         # start, export env, run CMD, always stop
#
# After `start`:  . .local/stack.env   (AWS_ENDPOINT_URL, STRIPE_API_BASE, ... see NOTES.md)
# Ports are free 127.0.0.1 ports picked at start. Logs: <state dir>/logs/{moto,localstripe}.log
# (kept after stop; truncated by the next start).
#
# Environment:
#   LOCAL_STACK_DIR      state dir (default <repo>/.local); holds stack.env, logs/, tmp dirs
#   STACK_START_TIMEOUT  seconds to wait for each service (default 30)
#   LOCALSTRIPE_PERSIST  1 = let localstripe pickle its store after each write, into the
#                        private per-instance dir (deleted on stop); default 0 = no pickle
#                        (the pickle-per-write makes it O(n^2): 300 creates 6.4 s vs 0.3 s)
# `run` keeps its state in a private <repo>/.local/run-<pid>/ (unless LOCAL_STACK_DIR is set),
# so several `run`s and a `start`ed stack coexist; its logs (.local/logs/run-<pid>/) are
# deleted when CMD succeeded and kept when it failed.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
VENV="$REPO/.venv"
STATE_DIR="${LOCAL_STACK_DIR:-$REPO/.local}"
LOG_DIR="$STATE_DIR/logs"
TIMEOUT="${STACK_START_TIMEOUT:-30}"

say() { echo "stack: $*" >&2; }
die() { say "error: $*"; exit 1; }

env_file() { echo "$STATE_DIR/stack.env"; }

# Read one variable from the env file without sourcing it into our shell.
state_get() {
  local f; f="$(env_file)"
  [[ -f "$f" ]] || return 0
  sed -n "s/^export $1=//p" "$f" | tail -1 | sed "s/^'\(.*\)'\$/\1/"
}

free_port() {
  "$VENV/bin/python" - <<'PY'
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
PY
}

# Succeeds once anything answers HTTP on the port (any status, 401/404 included).
http_up() {
  "$VENV/bin/python" - "$1" <<'PY' >/dev/null 2>&1
import sys, urllib.request, urllib.error
try:
    urllib.request.urlopen("http://127.0.0.1:%s/" % sys.argv[1], timeout=1)
except urllib.error.HTTPError:
    pass
PY
}

# Is PID alive and running the command we started (guards against pid reuse)?
pid_is_ours() {
  local pid="$1" marker="$2"
  [[ -n "$pid" && "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  [[ -r "/proc/$pid/cmdline" ]] || return 0
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$marker"
}

MOTO_MARK="moto_server_serial.py"
LS_MARK="localstripe_loopback.py"
FAKE_MARK="fake_stripe_admin.py"

stack_live() {
  pid_is_ours "$(state_get MOTO_PID)" "$MOTO_MARK" || pid_is_ours "$(state_get LOCALSTRIPE_PID)" "$LS_MARK" \
    || pid_is_ours "$(state_get FAKE_ADMIN_PID)" "$FAKE_MARK"
}

# wait_ready NAME PID PORT LOG -> 0 ready, 1 timeout, 2 process died
wait_ready() {
  local name="$1" pid="$2" port="$3" log="$4" deadline=$((SECONDS + TIMEOUT))
  while (( SECONDS < deadline )); do
    if ! kill -0 "$pid" 2>/dev/null; then return 2; fi
    if http_up "$port"; then return 0; fi
    sleep 0.2
  done
  return 1
}

# kill_pids PID MARKER [PID MARKER ...]: TERM all (those still ours), wait up to 10 s, then KILL.
kill_pids() {
  local pids=() i p
  while [[ $# -ge 2 ]]; do
    if pid_is_ours "$1" "$2"; then kill -TERM "$1" 2>/dev/null && pids+=("$1"); fi
    shift 2
  done
  [[ ${#pids[@]} -gt 0 ]] || return 0
  for i in $(seq 1 50); do
    local alive=0
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [[ $alive -eq 0 ]] && return 0
    sleep 0.2
  done
  for p in "${pids[@]}"; do
    if kill -0 "$p" 2>/dev/null; then say "pid $p did not exit on TERM; sending KILL"; kill -KILL "$p" 2>/dev/null || true; fi
  done
  for i in $(seq 1 25); do
    local alive=0
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [[ $alive -eq 0 ]] && return 0
    sleep 0.2
  done
}

STARTED_MOTO_PID="" STARTED_LS_PID="" STARTED_FAKE_PID="" LS_TMP=""
MOTO_PORT="" LS_PORT="" FAKE_PORT=""

abort_start() {
  kill_pids "$STARTED_MOTO_PID" "$MOTO_MARK" "$STARTED_LS_PID" "$LS_MARK" "$STARTED_FAKE_PID" "$FAKE_MARK"
  [[ -n "$LS_TMP" ]] && rm -rf "$LS_TMP"
  die "$1"
}

fail_with_log() {  # fail_with_log NAME LOG REASON
  say "$1 $3; last lines of $2:"
  tail -n 25 "$2" >&2 || true
  abort_start "$1 did not start"
}

start_moto() {
  local log="$LOG_DIR/moto.log" try rc
  for try in 1 2 3; do
    MOTO_PORT="$(free_port)"
    : >"$log"
    # Serialized requests: see moto_server_serial.py (moto does not lock its transactions).
    "$VENV/bin/python" "$HERE/moto_server_serial.py" -H 127.0.0.1 -p "$MOTO_PORT" </dev/null >>"$log" 2>&1 &
    STARTED_MOTO_PID=$!
    rc=0; wait_ready moto "$STARTED_MOTO_PID" "$MOTO_PORT" "$log" || rc=$?
    [[ $rc -eq 0 ]] && return 0
    if [[ $rc -eq 2 ]] && grep -qi "address already in use" "$log"; then
      say "moto: port $MOTO_PORT taken meanwhile, retrying"; STARTED_MOTO_PID=""; continue
    fi
    [[ $rc -eq 1 ]] && fail_with_log moto "$log" "not answering HTTP on 127.0.0.1:$MOTO_PORT after ${TIMEOUT}s"
    STARTED_MOTO_PID=""; fail_with_log moto "$log" "exited during startup"
  done
  fail_with_log moto "$log" "could not get a free port"
}

start_localstripe() {
  local log="$LOG_DIR/localstripe.log" try rc
  LS_TMP="$(mktemp -d "$STATE_DIR/localstripe-tmp.XXXXXX")"
  for try in 1 2 3; do
    LS_PORT="$(free_port)"
    : >"$log"
    TMPDIR="$LS_TMP" LOCALSTRIPE_STATE_DIR="$LS_TMP" \
      "$VENV/bin/python" -u "$HERE/localstripe_loopback.py" --host 127.0.0.1 --port "$LS_PORT" \
      </dev/null >>"$log" 2>&1 &
    STARTED_LS_PID=$!
    rc=0; wait_ready localstripe "$STARTED_LS_PID" "$LS_PORT" "$log" || rc=$?
    [[ $rc -eq 0 ]] && return 0
    if [[ $rc -eq 2 ]] && grep -qi "address already in use" "$log"; then
      say "localstripe: port $LS_PORT taken meanwhile, retrying"; STARTED_LS_PID=""; continue
    fi
    [[ $rc -eq 1 ]] && fail_with_log localstripe "$log" "not answering HTTP on 127.0.0.1:$LS_PORT after ${TIMEOUT}s"
    STARTED_LS_PID=""; fail_with_log localstripe "$log" "exited during startup"
  done
  fail_with_log localstripe "$log" "could not get a free port"
}

# The fakes talk to moto (partner sources, ping delivery) and localstripe (webhook config).
start_fake() {
  local log="$LOG_DIR/fake_stripe_admin.log" try rc
  for try in 1 2 3; do
    FAKE_PORT="$(free_port)"
    : >"$log"
    AWS_ENDPOINT_URL="http://127.0.0.1:$MOTO_PORT" AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing \
      AWS_REGION=us-east-2 STRIPE_API_BASE="http://127.0.0.1:$LS_PORT" \
      "$VENV/bin/python" -u "$HERE/fake_stripe_admin.py" --host 127.0.0.1 --port "$FAKE_PORT" \
      </dev/null >>"$log" 2>&1 &
    STARTED_FAKE_PID=$!
    rc=0; wait_ready fake_stripe_admin "$STARTED_FAKE_PID" "$FAKE_PORT" "$log" || rc=$?
    [[ $rc -eq 0 ]] && return 0
    if [[ $rc -eq 2 ]] && grep -qi "address already in use" "$log"; then
      say "fake_stripe_admin: port $FAKE_PORT taken meanwhile, retrying"; STARTED_FAKE_PID=""; continue
    fi
    [[ $rc -eq 1 ]] && fail_with_log fake_stripe_admin "$log" "not answering HTTP on 127.0.0.1:$FAKE_PORT after ${TIMEOUT}s"
    STARTED_FAKE_PID=""; fail_with_log fake_stripe_admin "$log" "exited during startup"
  done
  fail_with_log fake_stripe_admin "$log" "could not get a free port"
}

write_env() {
  local f tmp; f="$(env_file)"; tmp="$f.tmp.$$"
  {
    echo "# written by infra/local/stack.sh start at $(date -u +%Y-%m-%dT%H:%M:%SZ); source it: . $f"
    if [[ -n "$STARTED_MOTO_PID" ]]; then
      echo "export AWS_ENDPOINT_URL=http://127.0.0.1:$MOTO_PORT"
      echo "export AWS_ACCESS_KEY_ID=testing"
      echo "export AWS_SECRET_ACCESS_KEY=testing"
      echo "export AWS_REGION=us-east-2"
      echo "export AWS_DEFAULT_REGION=us-east-2"
      echo "export MOTO_PORT=$MOTO_PORT"
      echo "export MOTO_PID=$STARTED_MOTO_PID"
    fi
    if [[ -n "$STARTED_LS_PID" ]]; then
      echo "export STRIPE_API_BASE=http://127.0.0.1:$LS_PORT"
      echo "export STRIPE_API_KEY=sk_test_localstripe"
      echo "export LOCALSTRIPE_PORT=$LS_PORT"
      echo "export LOCALSTRIPE_PID=$STARTED_LS_PID"
      echo "export LOCALSTRIPE_TMPDIR='$LS_TMP'"
    fi
    if [[ -n "$STARTED_FAKE_PID" ]]; then
      echo "export STRIPE_ADMIN_API_BASE=http://127.0.0.1:$FAKE_PORT"
      echo "export EVENT_SOURCES_ENDPOINT_URL=http://127.0.0.1:$FAKE_PORT"
      echo "export FAKE_ADMIN_PORT=$FAKE_PORT"
      echo "export FAKE_ADMIN_PID=$STARTED_FAKE_PID"
    fi
  } >"$tmp"
  mv "$tmp" "$f"
}

cmd_start() {
  local want_moto=0 want_ls=0 a
  if [[ $# -eq 0 ]]; then want_moto=1; want_ls=1; fi
  for a in "$@"; do
    case "$a" in
      moto) want_moto=1 ;;
      localstripe) want_ls=1 ;;
      *) die "unknown service '$a' (moto, localstripe)" ;;
    esac
  done
  mkdir -p "$STATE_DIR" "$LOG_DIR"
  if [[ -f "$(env_file)" ]]; then
    if stack_live; then
      die "a stack is already running (see $(env_file)); run '$0 stop' first"
    fi
    say "removing stale $(env_file)"
    cleanup_state
  fi
  "$HERE/venv.sh" >&2
  local t0=$SECONDS
  trap 'abort_start "interrupted"' INT TERM
  if [[ $want_moto -eq 1 ]]; then start_moto; fi
  if [[ $want_ls -eq 1 ]]; then start_localstripe; fi
  if [[ $want_moto -eq 1 && $want_ls -eq 1 ]]; then start_fake; fi
  trap - INT TERM
  write_env
  say "up in $((SECONDS - t0))s:${STARTED_MOTO_PID:+ moto 127.0.0.1:$MOTO_PORT (pid $STARTED_MOTO_PID)}${STARTED_LS_PID:+ localstripe 127.0.0.1:$LS_PORT (pid $STARTED_LS_PID)}${STARTED_FAKE_PID:+ fakes 127.0.0.1:$FAKE_PORT (pid $STARTED_FAKE_PID)}; env: $(env_file)"
}

cleanup_state() {
  local tmpd; tmpd="$(state_get LOCALSTRIPE_TMPDIR)"
  # Only delete a tmp dir that lives inside our state dir.
  if [[ -n "$tmpd" && "$tmpd" == "$STATE_DIR"/localstripe-tmp.* ]]; then rm -rf "$tmpd"; fi
  rm -f "$(env_file)"
}

cmd_stop() {
  local f; f="$(env_file)"
  if [[ ! -f "$f" ]]; then say "nothing to stop (no $f)"; return 0; fi
  local mp lp fp; mp="$(state_get MOTO_PID)"; lp="$(state_get LOCALSTRIPE_PID)"; fp="$(state_get FAKE_ADMIN_PID)"
  kill_pids "$mp" "$MOTO_MARK" "$lp" "$LS_MARK" "$fp" "$FAKE_MARK"
  cleanup_state
  say "stopped${mp:+ moto (pid $mp)}${lp:+ localstripe (pid $lp)}${fp:+ fakes (pid $fp)}"
}

cmd_status() {
  local f; f="$(env_file)"
  if [[ ! -f "$f" ]]; then say "not running (no $f)"; return 1; fi
  cat "$f"
  local ok=0
  pid_is_ours "$(state_get MOTO_PID)" "$MOTO_MARK" && say "moto: running" || { [[ -n "$(state_get MOTO_PID)" ]] && { say "moto: NOT running"; ok=1; }; }
  pid_is_ours "$(state_get LOCALSTRIPE_PID)" "$LS_MARK" && say "localstripe: running" || { [[ -n "$(state_get LOCALSTRIPE_PID)" ]] && { say "localstripe: NOT running"; ok=1; }; }
  pid_is_ours "$(state_get FAKE_ADMIN_PID)" "$FAKE_MARK" && say "fakes: running" || { [[ -n "$(state_get FAKE_ADMIN_PID)" ]] && { say "fakes: NOT running"; ok=1; }; }
  return $ok
}

cmd_run() {
  [[ "${1:-}" == "--" ]] && shift
  [[ $# -gt 0 ]] || die "usage: $0 run -- CMD [ARGS...]"
  # Private state per run (race-free when several runs start at once, and independent of a
  # stack started with `start`), unless LOCAL_STACK_DIR is set.
  if [[ -z "${LOCAL_STACK_DIR:-}" ]]; then
    STATE_DIR="$REPO/.local/run-$$"
    LOG_DIR="$REPO/.local/logs/run-$$"
  fi
  local child="" rc=0 sig=""
  on_exit() {
    local r=$?
    trap - EXIT INT TERM
    if [[ -n "$child" ]] && kill -0 "$child" 2>/dev/null; then kill -TERM "$child" 2>/dev/null || true; wait "$child" 2>/dev/null || true; fi
    cmd_stop || true
    if [[ "$STATE_DIR" == "$REPO/.local/run-$$" ]]; then
      rm -rf "$STATE_DIR"
      # Keep the services' logs only when something failed.
      if [[ "$r" -eq 0 ]]; then rm -rf "$LOG_DIR"; else say "service logs kept in $LOG_DIR"; fi
    fi
    exit "$r"
  }
  trap on_exit EXIT
  cmd_start
  trap 'sig=INT' INT
  trap 'sig=TERM' TERM
  set -a
  # shellcheck disable=SC1090
  . "$(env_file)"
  set +a
  # Run CMD as a child we can wait on, so INT/TERM to this script reach it and the
  # stack is stopped afterwards. Keep our stdin for it (bash would give /dev/null).
  { exec 3<&0; } 2>/dev/null || exec 3</dev/null   # CI may run us with stdin closed
  "$@" <&3 3<&- &
  child=$!
  while :; do
    rc=0; wait "$child" || rc=$?
    if [[ -n "$sig" ]]; then
      kill -TERM "$child" 2>/dev/null || true
      rc=0; wait "$child" || rc=$?
      [[ "$sig" == INT ]] && rc=130 || rc=143
      break
    fi
    kill -0 "$child" 2>/dev/null || break
  done
  child=""
  exit "$rc"
}

usage() { sed -n '2,/^set -euo/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; }

case "${1:-}" in
  start) shift; cmd_start "$@" ;;
  stop) shift; cmd_stop ;;
  status) shift; cmd_status ;;
  run) shift; cmd_run "$@" ;;
  -h|--help|help) usage ;;
  *) usage >&2; exit 2 ;;
esac

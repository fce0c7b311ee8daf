#!/usr/bin/env bash
# Create/refresh <repo>/.venv with the pinned Python tools of the local stack
# (moto, localstripe, checkov, cargo-lambda, stripe).
#
#   infra/local/venv.sh            # idempotent; one line when up to date, progress otherwise
#   PYTHON=python3.12 infra/local/venv.sh
#
# A stamp (sha256 of requirements.txt + constraints.txt + the Python version) is kept in
# .venv/.stack-stamp; when it matches, nothing is done (instant second run).
# Needs only python3 (>= 3.11) with the venv module and access to PyPI.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
VENV="$REPO/.venv"
REQ="$HERE/requirements.txt"
CON="$HERE/constraints.txt"
PY="${PYTHON:-python3}"
LOGDIR="$REPO/.local/logs"
STAMP_FILE="$VENV/.stack-stamp"

die() { echo "venv.sh: $*" >&2; exit 1; }

command -v "$PY" >/dev/null 2>&1 || die "$PY not found (set PYTHON=...)"
"$PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' \
  || die "$PY is $("$PY" -V 2>&1); Python >= 3.11 is required (numpy/checkov pins)"
PYVER="$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"

stamp() {
  { cat "$REQ" "$CON"; echo "python=$PYVER"; } | sha256sum | cut -d' ' -f1
}
WANT="$(stamp)"

up_to_date() {
  [[ -x "$VENV/bin/python" && -f "$STAMP_FILE" && "$(cat "$STAMP_FILE")" == "$WANT" ]] \
    && "$VENV/bin/python" -c '' 2>/dev/null
}

if up_to_date; then
  echo "venv: up to date ($VENV, python $PYVER)"
  exit 0
fi

mkdir -p "$LOGDIR"
# Serialise concurrent runs (two `stack.sh run` at once on a fresh clone).
exec 9>"$REPO/.local/venv.lock"
if command -v flock >/dev/null 2>&1; then flock 9; fi
if up_to_date; then
  echo "venv: up to date ($VENV, python $PYVER)"
  exit 0
fi

LOG="$LOGDIR/venv-install.log"
start=$(date +%s)
# Recreate when the interpreter's minor version changed (or the venv is broken).
if [[ -d "$VENV" ]]; then
  have="$("$VENV/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || echo none)"
  if [[ "$have" != "$PYVER" ]]; then rm -rf "$VENV"; fi
fi
rm -f "$STAMP_FILE"
[[ -x "$VENV/bin/python" ]] || "$PY" -m venv "$VENV" >"$LOG" 2>&1 || { tail -20 "$LOG" >&2; die "python -m venv failed"; }

export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
echo "venv: installing the pinned tools into $VENV (about 1-2 min on a fresh clone; full log $LOG)"
# Progress: one line per package pip collects, then the install step; everything in the log.
set +e
"$VENV/bin/python" -m pip install -r "$REQ" -c "$CON" 2>&1 | tee -a "$LOG" \
  | awk '/^Collecting /{n++; printf "venv: [%d] %s\n", n, $2; fflush()} /^Installing collected/{print "venv: installing " n " packages..."; fflush()}'
pip_rc=${PIPESTATUS[0]}
set -e
if [[ $pip_rc -ne 0 ]]; then
  tail -30 "$LOG" >&2
  die "pip install failed (full log: $LOG)"
fi
echo "$WANT" >"$STAMP_FILE"
echo "venv: installed pinned tools into $VENV in $(( $(date +%s) - start ))s (python $PYVER; log $LOG)"

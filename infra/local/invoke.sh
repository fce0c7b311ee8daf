#!/usr/bin/env bash
# Run one Lambda under `cargo lambda watch` against the local stack and invoke it with an
# event file. `make invoke FUNCTION=subscription EVENT=fixtures/partner-snapshot/subscription-created.json`
# (run under infra/local/stack.sh, which exports the moto/localstripe endpoints).
set -euo pipefail
cd "$(dirname "$0")/../.."
FUNCTIONS="subscription payment customer webhook"
usage() { echo "usage: make invoke FUNCTION=<${FUNCTIONS// /|}> EVENT=<event file, e.g. fixtures/partner-snapshot/subscription-created.json>" >&2; exit 2; }
FN="${1:-}"
EVENT="${2:-}"
[[ " $FUNCTIONS " == *" $FN "* && -n "$FN" ]] || { [[ -n "$FN" ]] && echo "invoke: $FN is not a Lambda function" >&2; usage; }
[[ -f "$EVENT" ]] || { [[ -n "$EVENT" ]] && echo "invoke: no such event file: $EVENT" >&2; usage; }
# Only the arguments are checked above: `make invoke` runs that check before starting the stack.
[[ "${INVOKE_CHECK_ONLY:-}" == 1 ]] && exit 0
: "${AWS_ENDPOINT_URL:?run through infra/local/stack.sh run -- (make invoke does)}"
CARGO_LAMBDA=.venv/bin/cargo-lambda

export TABLE_PREFIX="invoke-$(date +%s)"
export BILLING_TABLE="$TABLE_PREFIX-stripe-billing" DEDUPE_TABLE="$TABLE_PREFIX-stripe-events"
cargo run -p stripe-events-cli --bin stripe-events -- create-tables

PORT=$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
LOG=.local/logs/invoke-watch.log
mkdir -p .local/logs
# watch inherits this environment (tables, endpoints, Stripe settings) for the function.
"$CARGO_LAMBDA" lambda watch --invoke-address 127.0.0.1 --invoke-port "$PORT" --ignore-changes >"$LOG" 2>&1 &
WATCH_PID=$!
trap 'kill "$WATCH_PID" 2>/dev/null; wait "$WATCH_PID" 2>/dev/null || true' EXIT

for _ in $(seq 1 600); do
  (echo >/dev/tcp/127.0.0.1/"$PORT") 2>/dev/null && break
  kill -0 "$WATCH_PID" 2>/dev/null || { cat "$LOG"; exit 1; }
  sleep 0.5
done
"$CARGO_LAMBDA" lambda invoke "$FN" --invoke-address 127.0.0.1 --invoke-port "$PORT" --data-file "$EVENT" --output-format json
echo
echo "state written to $BILLING_TABLE (function log: $LOG)"

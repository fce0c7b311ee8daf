#!/usr/bin/env bash
# make bench (GitHub issue 9): cold start, handler cost, round trips and package size of the
# Lambdas, printed as one table with the command behind each figure.
#
#   crates/stripe-events-bench/run.sh              # everything (≈ 15 min cold, 2 cores)
#   crates/stripe-events-bench/run.sh STEP...      # package coldstart roundtrips handler table
#
# Environment: BENCH_STARTS (default 21 measured cold starts per function, after 1 warm-up),
# BENCH_INVOCATIONS (default 1000 invocations before reading the peak RSS).
# Results: target/bench/{coldstart,roundtrips}.json, criterion's target/criterion/handler/,
# the table in target/bench/table.md.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
cd "$REPO"
OUT=target/bench
STACK=infra/local/stack.sh
HARNESS=target/release/stripe-events-bench
STARTS="${BENCH_STARTS:-21}"
INVOCATIONS="${BENCH_INVOCATIONS:-1000}"
CONSUMERS=(subscription payment customer)

say() { echo "bench: $*" >&2; }

steps=("$@")
[[ ${#steps[@]} -gt 0 ]] || steps=(package coldstart roundtrips handler table)
want() { local s; for s in "${steps[@]}"; do [[ "$s" == "$1" ]] && return 0; done; return 1; }
mkdir -p "$OUT"

if want package; then
  # The webhook is packaged too when it builds; the consumers are required.
  if ! infra/local/package.sh "${CONSUMERS[@]}" webhook; then
    say "packaging with webhook failed; packaging the consumers only"
    infra/local/package.sh "${CONSUMERS[@]}"
  fi
fi

# The measured binaries are exactly the zips' bootstrap files.
functions=()
for fn in "${CONSUMERS[@]}" webhook; do
  zip="target/lambda/$fn/bootstrap.zip"
  if [[ ! -f "$zip" ]]; then
    [[ "$fn" == webhook ]] && { say "no $zip: webhook not measured"; continue; }
    say "error: $zip missing (run: infra/local/package.sh ${CONSUMERS[*]})"; exit 1
  fi
  rm -rf "$OUT/bin/$fn"; mkdir -p "$OUT/bin/$fn"
  unzip -q -o "$zip" bootstrap -d "$OUT/bin/$fn"
  functions+=(--function "$fn=$OUT/bin/$fn/bootstrap")
done

if want coldstart || want roundtrips || want table; then
  say "building the harness (release)"
  cargo build --quiet --release -p stripe-events-bench --bin stripe-events-bench
fi

if want coldstart; then
  cmd=("$STACK" run -- "$HARNESS" coldstart "${functions[@]}" --starts "$STARTS" --invocations "$INVOCATIONS" --out "$OUT/coldstart.json")
  "${cmd[@]}" --command "${cmd[*]}"
fi

if want roundtrips; then
  cmd=("$STACK" run -- "$HARNESS" roundtrips --out "$OUT/roundtrips.json")
  "${cmd[@]}" --command "${cmd[*]}"
fi

HANDLER_CMD="cargo bench -p stripe-events-bench --bench handler"
if want handler; then
  say "criterion: $HANDLER_CMD (≈ 3 min; log: $OUT/handler.log)"
  rc=0; $HANDLER_CMD >"$OUT/handler.log" 2>&1 || rc=$?
  grep -E '^(handler/|\S+: one payload|\S+_duplicate:)|time:' "$OUT/handler.log" >&2 || true
  [[ $rc -eq 0 ]] || { say "error: cargo bench failed (see $OUT/handler.log)"; exit 1; }
fi

if want table; then
  "$HARNESS" table --results "$OUT" --criterion target/criterion --packages target/lambda \
    --handler-command "$HANDLER_CMD" \
    --size-command "infra/local/package.sh ${CONSUMERS[*]} webhook; stat -c %s target/lambda/<fn>/bootstrap.zip" \
    | tee "$OUT/table.md"
fi

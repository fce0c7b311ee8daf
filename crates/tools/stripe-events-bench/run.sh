#!/usr/bin/env bash
# make bench (GitHub issues 9, 17): cold start, CPU per warm invocation and where it goes,
# handler cost, round trips, SQS batch wall time and package size of the Lambdas, printed as
# one table with the command behind each figure and the figures from before issue 17
# (crates/tools/stripe-events-bench/baseline/) next to today's.
#
#   crates/tools/stripe-events-bench/run.sh              # everything (≈ 25 min cold, 2 cores)
#   crates/tools/stripe-events-bench/run.sh STEP...      # package coldstart cpu profile roundtrips batch handler table
#
# Environment: BENCH_STARTS (default 21 measured cold starts per function, after 1 warm-up),
# BENCH_INVOCATIONS (default 1000 invocations before reading the peak RSS, and per CPU case),
# BENCH_PROFILE_INVOCATIONS (default 200 invocations per case under callgrind).
# Results: target/bench/{coldstart,cpu,profile,roundtrips,batch}.json, criterion's
# <cargo target dir>/criterion/handler/ (target/ unless CARGO_TARGET_DIR says otherwise), the
# table in target/bench/table.md.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../../.." && pwd)"
cd "$REPO"
OUT=target/bench
STACK=infra/local/stack.sh
# Cargo's output folder: target/, or CARGO_TARGET_DIR (or a cargo config's build.target-dir).
# The zips stay in target/lambda (infra/local/package.sh writes them there either way).
CARGO_TARGET="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
HARNESS="$CARGO_TARGET/release/stripe-events-bench"
STARTS="${BENCH_STARTS:-21}"
INVOCATIONS="${BENCH_INVOCATIONS:-1000}"
PROFILE_INVOCATIONS="${BENCH_PROFILE_INVOCATIONS:-200}"
CONSUMERS=(subscription payment customer)

say() { echo "bench: $*" >&2; }

steps=("$@")
[[ ${#steps[@]} -gt 0 ]] || steps=(package coldstart cpu profile roundtrips batch handler table)
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

if want coldstart || want cpu || want profile || want roundtrips || want batch || want table; then
  say "building the harness (release)"
  cargo build --quiet --release -p stripe-events-bench --bin stripe-events-bench
fi

if want coldstart; then
  cmd=("$STACK" run -- "$HARNESS" coldstart "${functions[@]}" --starts "$STARTS" --invocations "$INVOCATIONS" --out "$OUT/coldstart.json")
  "${cmd[@]}" --command "${cmd[*]}"
fi

if want cpu; then
  # The packaged binaries, against moto and against the instant responder; one stack per
  # function: moto answers one request at a time and slows down as its tables grow (with all
  # functions on one stack it stopped answering within 30 s during the third one).
  parts=()
  for ((i = 1; i < ${#functions[@]}; i += 2)); do
    fn="${functions[i]%%=*}"
    cmd=("$STACK" run -- "$HARNESS" cpu --function "${functions[i]}" --invocations "$INVOCATIONS" --out "$OUT/cpu-$fn.json")
    "${cmd[@]}" --command "${cmd[*]}"
    parts+=("$OUT/cpu-$fn.json")
  done
  python3 - "$OUT/cpu.json" "${parts[@]}" <<'MERGE'
import json, sys
rows = [row for part in sys.argv[2:] for row in json.load(open(part))]
json.dump(rows, open(sys.argv[1], "w"), indent=2)
MERGE
fi

if want profile; then
  # callgrind needs symbols: the release binaries (the zips' are stripped).
  say "building the release binaries for callgrind"
  cargo build --quiet --release -p subscription -p webhook
  command -v valgrind >/dev/null || { say "error: profile needs valgrind (apt-get install valgrind)"; exit 1; }
  cmd=("$STACK" run -- "$HARNESS" profile --function "subscription=$CARGO_TARGET/release/subscription"
       --function "webhook=$CARGO_TARGET/release/webhook" --invocations "$PROFILE_INVOCATIONS"
       --work "$OUT/callgrind" --out "$OUT/profile.json")
  "${cmd[@]}" --command "${cmd[*]}"
fi

if want batch; then
  cmd=("$STACK" run -- "$HARNESS" batch --delay-ms 10 --out "$OUT/batch.json")
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
  # The 10 KB snapshot's floor, typed parse and handler timed side by side on each fresh
  # payload: criterion times its cases minutes apart, and on a noisy VM their ratio moves with
  # the machine; this one holds.
  say "side by side: examples/interleaved 8000 (≈ 2 min; $OUT/interleaved.txt)"
  cargo build --quiet --release -p stripe-events-bench --example interleaved
  # With Node.js installed, the same bytes also go through a Node.js handler doing the same
  # work (node/side_by_side.mjs), one Node round after each Rust round: issue 13 asks ≥ 3×.
  node_args=()
  if command -v node >/dev/null; then
    node_args=(--node "$HERE/node/side_by_side.mjs")
  else
    say "node not installed: the Node.js comparison is skipped"
  fi
  "$CARGO_TARGET/release/examples/interleaved" 8000 "${node_args[@]}" --json "$OUT/interleaved.json" \
    | tee "$OUT/interleaved.txt" >&2
fi

if want table; then
  "$HARNESS" table --results "$OUT" --criterion "$CARGO_TARGET/criterion" --packages target/lambda \
    --handler-command "$HANDLER_CMD" \
    --size-command "infra/local/package.sh ${CONSUMERS[*]} webhook; stat -c %s target/lambda/<fn>/bootstrap.zip" \
    | tee "$OUT/table.md"
fi

#!/usr/bin/env bash
# Builds Lambda packages: target/lambda/<fn>/bootstrap.zip (where Terraform reads them,
# infra/lambda.tf), with the size-tuned `lambda` profile of the root Cargo.toml (fat LTO,
# codegen-units = 1, opt-level "s", strip), through cargo-lambda from .venv (it links with zig).
#
#   infra/local/package.sh                       # every function
#   infra/local/package.sh subscription payment  # some
#
# Architecture: arm64 (what infra/lambda.tf deploys) when the Rust target
# aarch64-unknown-linux-gnu is installed (`rustup target add aarch64-unknown-linux-gnu`),
# else x86_64, with a warning: an x86_64 zip must not be deployed to the arm64 functions
# (deploy.sh refuses it).
#
# Cargo builds in <repo>/target/package (PACKAGE_TARGET_DIR to change), not in target/: with a
# cross target, cargo puts the host artifacts of profile `lambda` in <target-dir>/lambda/,
# which would mix build scripts and deps into target/lambda/ and collide with the
# target/lambda/<fn>/ package folders. Only the zips go to target/lambda/.
#
# Environment: PACKAGE_TARGET_DIR, PACKAGE_ARCH=arm64|x86_64 to force the architecture.
# Prints what it built and each zip's size; the last line per function is
#   package: <fn> <arch> <bytes> <path> (<MiB, 2^20 bytes> MiB)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
VENV="$REPO/.venv"
ALL=(subscription payment customer webhook)

say() { echo "package: $*" >&2; }
die() { say "error: $*"; exit 1; }

[[ $# -gt 0 ]] || set -- "${ALL[@]}"
for fn in "$@"; do
  [[ -f "$REPO/lambdas/$fn/Cargo.toml" ]] || die "unknown function '$fn' (known: ${ALL[*]})"
done

[[ -x "$VENV/bin/cargo-lambda" ]] || "$HERE/venv.sh" >&2
# cargo-lambda finds zig (python-zig, from the ziglang wheel) on PATH.
export PATH="$VENV/bin:$PATH"

installed_targets="$(rustup target list --installed 2>/dev/null || true)"
arch="${PACKAGE_ARCH:-}"
if [[ -z "$arch" ]]; then
  if grep -qx 'aarch64-unknown-linux-gnu' <<<"$installed_targets"; then arch=arm64; else arch=x86_64; fi
fi
case "$arch" in
  arm64)
    grep -qx 'aarch64-unknown-linux-gnu' <<<"$installed_targets" \
      || die "PACKAGE_ARCH=arm64 needs: rustup target add aarch64-unknown-linux-gnu"
    arch_flag=--arm64 ;;
  x86_64)
    arch_flag=--x86-64
    say "warning: aarch64-unknown-linux-gnu is not installed; building x86_64 packages." \
        "infra/lambda.tf deploys arm64: install the target before packaging for AWS." ;;
  *) die "PACKAGE_ARCH must be arm64 or x86_64, not '$arch'" ;;
esac

build_dir="${PACKAGE_TARGET_DIR:-$REPO/target/package}"
lambda_dir="$REPO/target/lambda"
pkgs=()
for fn in "$@"; do pkgs+=(-p "$fn"); rm -f "$lambda_dir/$fn/bootstrap.zip"; done

say "building ${*} ($arch, profile lambda) with $(cargo-lambda --version 2>/dev/null || echo cargo-lambda)"
start=$SECONDS
cd "$REPO"
# One cargo invocation for all packages: the dependencies are compiled once.
CARGO_TARGET_DIR="$build_dir" cargo-lambda lambda build --profile lambda "$arch_flag" \
  --output-format zip --lambda-dir "$lambda_dir" "${pkgs[@]}" >&2
say "built in $((SECONDS - start))s"

for fn in "$@"; do
  zip="$lambda_dir/$fn/bootstrap.zip"
  [[ -f "$zip" ]] || die "cargo-lambda did not write $zip"
  # The runtime (provided.al2023) executes `bootstrap` at the zip's root.
  "$VENV/bin/python" - "$zip" <<'PY' || die "$zip has no executable bootstrap at its root"
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    info = z.getinfo("bootstrap")
    mode = info.external_attr >> 16
    sys.exit(0 if mode & 0o111 else 1)
PY
  bytes="$(stat -c %s "$zip")"
  printf 'package: %s %s %d %s (%.2f MiB)\n' "$fn" "$arch" "$bytes" "${zip#"$REPO"/}" \
    "$(awk -v b="$bytes" 'BEGIN{print b/1048576}')"
done

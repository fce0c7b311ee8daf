#!/usr/bin/env bash
# Updates one function's code from target/lambda/<fn>/bootstrap.zip (or ZIP):
#
#   infra/local/deploy.sh FN [ZIP]          # FN: subscription|payment|customer|webhook
#
# Function name ${PREFIX:-ai-nexus-dev}-stripe-FN. Honours AWS_ENDPOINT_URL (moto locally,
# e.g. under `infra/local/stack.sh run --`) and the usual AWS credentials/region. Prints the
# CodeSha256 Lambda returns and fails unless it equals base64(sha256(zip)); refuses a zip
# whose bootstrap does not match the function's architecture. Logic: deploy.py (boto3).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="$(cd "$HERE/../.." && pwd)/.venv"
[[ -x "$VENV/bin/python" ]] || "$HERE/venv.sh" >&2
exec "$VENV/bin/python" "$HERE/deploy.py" "$@"

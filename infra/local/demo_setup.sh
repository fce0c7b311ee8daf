#!/usr/bin/env bash
# The partner-event setup and the webhook -> partner migration as commands, on the local stack
# (moto + localstripe + infra/local/fake_stripe_admin.py): setup -> status -> ping -> migrate.
# Run by `make demo-setup` (through infra/local/stack.sh run).
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${STRIPE_ADMIN_API_BASE:?run through infra/local/stack.sh run -- (make demo-setup does)}"

export TABLE_PREFIX="demo-setup-$(date +%s)"
export RUST_LOG="${RUST_LOG:-error}"
DIR=.local/demo-setup
rm -rf "$DIR" && mkdir -p "$DIR"
PY=.venv/bin/python

# Bold headings only on a terminal, and not with NO_COLOR set (https://no-color.org).
if [[ -t 1 && -z "${NO_COLOR:-}" ]]; then
  step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
else
  step() { printf '\n== %s\n' "$*"; }
fi

step "building the operator CLI (the first build compiles the workspace's dependencies: minutes)"
cargo build -p stripe-events-cli --bin stripe-events
# Where cargo put it: target/, or CARGO_TARGET_DIR (or a cargo config's build.target-dir).
CLI="$(cargo metadata --format-version 1 --no-deps | .venv/bin/python -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')/debug/stripe-events"

step "stripe-events setup status (nothing yet)"
$CLI setup status

step "stripe-events setup: two EventBridge destinations, wait for their partner sources, write tfvars"
$CLI setup --wait 2m --poll 1s --tfvars-out "$DIR/partner-sources.tfvars"
cat "$DIR/partner-sources.tfvars"

step "running it again reuses the pair"
$CLI setup --wait 2m --poll 1s --tfvars-out "$DIR/partner-sources.tfvars" | grep reusing

step "stripe-events setup status (sources pending association)"
$CLI setup status

step "the terraform apply, simulated in moto: partner buses, partner and webhook rules, monitoring rule"
mapfile -t SOURCES < <(grep -o 'aws.partner/stripe.com/ed_[A-Za-z0-9_]*' "$DIR/partner-sources.tfvars" | sort -u)
$PY infra/local/apply_partner_local.py "$TABLE_PREFIX" partner "${SOURCES[@]}" --log-group /aws/events/stripe-billing
$PY infra/local/apply_partner_local.py "$TABLE_PREFIX" webhook

step "stripe-events setup status (partner path live)"
$CLI setup status

step "stripe-events ping: Stripe's ping, found in /aws/events/stripe-billing"
$CLI ping --wait 30s --poll 500ms

step "migration: tables, a webhook endpoint in Stripe, and deliveries on both paths"
$CLI create-tables
URL="http://127.0.0.1:9/stripe/webhook"
$PY - "$URL" <<'PY'
import os, sys, stripe
c = stripe.StripeClient(os.environ["STRIPE_API_KEY"], base_addresses={"api": os.environ["STRIPE_ADMIN_API_BASE"]})
we = c.v1.webhook_endpoints.create(params={"url": sys.argv[1], "enabled_events": ["invoice.paid", "customer.updated", "customer.subscription.created"]})
print("webhook endpoint", we.id, we.enabled_events)
PY
# invoice.paid arrives on both paths; customer.updated only by webhook (a miss by the partner)
$CLI replay fixtures/partner-snapshot/invoice-paid.json fixtures/webhook/invoice-paid.json fixtures/webhook/customer-updated.json | tail -1

step "stripe-events migrate status"
$CLI migrate status --webhook-url "$URL"

step "stripe-events migrate cutover --types invoice.paid (ready)"
$CLI migrate cutover --types invoice.paid --webhook-url "$URL" --operator demo

step "stripe-events migrate cutover --types customer.updated (not ready: refused, exit 4)"
$CLI migrate cutover --types customer.updated --webhook-url "$URL" --operator demo || echo "(exit $?)"

step "stripe-events migrate rollback --types invoice.paid"
$CLI migrate rollback --types invoice.paid --webhook-url "$URL" --operator demo

step "stripe-events migrate status (with the log kept in DynamoDB)"
$CLI migrate status --webhook-url "$URL"

//! The CLI's commands against moto and localstripe (through `make test`): replay outcomes
//! for every fixture folder, thin events hydrated from localstripe, the migration audit,
//! backfill from localstripe's `/v1/events`, and the state the application reads.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use serde_json::Value;
use stripe_events_cli::audit::{classify, Seen};
use stripe_events_cli::context::Context;
use stripe_events_cli::replay::{replay_bytes, replay_value, Row};
use stripe_events_cli::state::{customer_state, customers_of_user};
use stripe_events_core::Timestamp;
use stripe_events_store::{dynamodb_client, DynamoStore};
use stripe_events_stripe::StripeHydrator;
use stripe_events_testkit::stack::{fresh_tables, local_endpoint, sdk_config_for};

use stripe_events_testkit::fixtures::repo_root as repo;

async fn context() -> Context {
    let endpoint = local_endpoint().unwrap_or_else(|e| panic!("{e}"));
    let client = dynamodb_client(&sdk_config_for(&endpoint).await, None);
    let tables = fresh_tables(&client).await.expect("tables");
    let stripe = StripeHydrator::from_env()
        .await
        .unwrap_or_else(|e| panic!("Stripe settings (run through make test): {e}"));
    Context::new(DynamoStore::new(client, tables), Arc::new(stripe)).expect("context")
}

async fn replay(ctx: &Context, rel: &str) -> Vec<Row> {
    let path = repo().join(rel);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    replay_bytes(ctx, rel, &bytes).await
}

fn summary(rows: &[Row]) -> Vec<(String, String, String)> {
    rows.iter()
        .map(|r| (r.route.clone(), r.lambda.clone(), r.outcome.to_string()))
        .collect()
}

fn triple(route: &str, lambda: &str, outcome: &str) -> (String, String, String) {
    (route.into(), lambda.into(), outcome.into())
}

#[tokio::test]
async fn replay_routes_like_eventbridge_and_reports_outcomes() {
    let ctx = context().await;
    assert_eq!(
        summary(&replay(&ctx, "fixtures/partner-snapshot/subscription-created.json").await),
        [triple("partner-subscription", "subscription", "applied")]
    );
    // The same Stripe event forwarded by the webhook Lambda: a duplicate.
    assert_eq!(
        summary(&replay(&ctx, "fixtures/webhook/subscription-created.json").await),
        [triple("webhook-subscription", "subscription", "duplicate")]
    );
    assert_eq!(
        summary(&replay(&ctx, "fixtures/ignored/product-created.json").await),
        [triple("-", "-", "unrouted")]
    );
    let invalid = replay(&ctx, "fixtures/invalid/truncated.json").await;
    assert_eq!(invalid[0].outcome, "unreadable: not_json");
    // SQS: each record goes to its queue's Lambda; the bad ones are reported, not dropped.
    let sqs = replay(&ctx, "fixtures/sqs/partial-failure.json").await;
    assert!(
        sqs.iter().any(|r| r.outcome == "failed_permanent"),
        "{sqs:?}"
    );
    assert!(
        sqs.iter()
            .any(|r| r.outcome == "applied" || r.outcome == "duplicate"),
        "{sqs:?}"
    );
    // A bare event is a direct invocation of its family's Lambda.
    let bare = replay(&ctx, "fixtures/bare/snapshot-subscription-updated.json").await;
    assert_eq!(bare[0].route, "direct");
    assert_eq!(bare[0].lambda, "subscription");
}

/// Runs the seed script (creates a customer, plan and subscription in localstripe and writes
/// thin events referencing them) and returns its summary.
fn seed(out: &Path, user_id: &str) -> Value {
    let python = repo().join(".venv/bin/python");
    let output = Command::new(python)
        .arg(repo().join("infra/local/seed_localstripe.py"))
        .arg(out)
        .arg(user_id)
        .output()
        .expect("run seed_localstripe.py");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("seed summary")
}

#[tokio::test]
async fn thin_events_hydrate_from_localstripe_once_and_then_dedupe() {
    let ctx = context().await;
    let dir = std::env::temp_dir().join(format!("stripe-events-seed-{}", std::process::id()));
    let seeded = seed(&dir, "user_thin_1");
    let customer = seeded["customer"].as_str().expect("customer id");
    let before = ctx.stripe.calls();
    let mut first = Vec::new();
    for name in seeded["events"].as_array().expect("events") {
        let name = name.as_str().expect("file name");
        let bytes = std::fs::read(dir.join(name)).expect("event file");
        first.extend(replay_bytes(&ctx, name, &bytes).await);
    }
    assert!(first.iter().all(|r| r.outcome == "applied"), "{first:?}");
    assert_eq!(
        ctx.stripe.calls() - before,
        first.len() as u64,
        "one Stripe call per thin event"
    );

    let state = customer_state(&ctx.store, customer).await.expect("state");
    let profile = state
        .profile
        .clone()
        .expect("profile hydrated from localstripe");
    assert_eq!(profile["email"], "ada@example.com");
    assert_eq!(profile["user_id"], "user_thin_1");
    assert_eq!(state.subscriptions.len(), 1);
    assert_eq!(state.subscriptions[0]["status"], "active");
    assert!(
        state.subscriptions[0]["plan_id"].as_str().is_some(),
        "2017 shape: plan on the subscription"
    );
    assert!(
        state.entitlement.entitled,
        "an active subscription entitles: {:?}",
        state.entitlement
    );
    assert_eq!(
        customers_of_user(&ctx.store, "user_thin_1")
            .await
            .expect("gsi"),
        [customer]
    );

    let before = ctx.stripe.calls();
    for name in seeded["events"].as_array().expect("events") {
        let bytes = std::fs::read(dir.join(name.as_str().expect("name"))).expect("event file");
        let again = replay_bytes(&ctx, "again", &bytes).await;
        assert_eq!(again[0].outcome, "duplicate");
    }
    assert_eq!(ctx.stripe.calls(), before, "duplicates cost no Stripe call");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn audit_classifies_paths() {
    let ctx = context().await;
    for rel in [
        "fixtures/partner-snapshot/invoice-paid.json",
        "fixtures/webhook/invoice-paid.json",
        "fixtures/webhook/payment-method-attached.json",
        "fixtures/partner-snapshot/charge-succeeded.json",
    ] {
        replay(&ctx, rel).await;
    }
    let records = ctx.store.dedupe_records().await.expect("scan");
    let entries: Vec<_> = records.iter().map(classify).collect();
    let seen = |t: &str| entries.iter().find(|e| e.event_type == t).map(|e| e.seen);
    assert_eq!(seen("invoice.paid"), Some(Seen::Both));
    assert_eq!(
        seen("payment_method.attached"),
        Some(Seen::WebhookOnly),
        "the partner source missed it"
    );
    assert_eq!(seen("charge.succeeded"), Some(Seen::PartnerOnly));
    let both = entries.iter().find(|e| e.seen == Seen::Both).expect("both");
    assert!(
        both.partner_delay_ms.is_some_and(|d| d <= 0),
        "partner came first here: {both:?}"
    );
}

#[tokio::test]
async fn backfill_applies_localstripe_events_and_is_safe_to_rerun() {
    let ctx = context().await;
    let since = Timestamp::from_unix_millis(Timestamp::now().unix_millis() - 2_000);
    let dir = std::env::temp_dir().join(format!("stripe-events-backfill-{}", std::process::id()));
    let seeded = seed(&dir, "user_backfill_1");
    let customer = seeded["customer"].as_str().expect("customer");
    // localstripe rejects `types[]`, so list everything (a single type works too, as `type=`).
    let events = ctx
        .stripe
        .list_events(since, &[])
        .await
        .expect("list events");
    let wanted = ["customer.created", "customer.subscription.created"];
    let ours: Vec<Value> = events
        .into_iter()
        .filter(|e| wanted.iter().any(|t| e["type"] == *t))
        .filter(|e| {
            let o = &e["data"]["object"];
            o["id"] == customer || o["customer"] == customer
        })
        .collect();
    assert_eq!(
        ours.len(),
        2,
        "customer.created and customer.subscription.created"
    );
    let one_type = ctx
        .stripe
        .list_events(since, &["customer.created".to_owned()])
        .await
        .expect("list one type");
    assert!(!one_type.is_empty() && one_type.iter().all(|e| e["type"] == "customer.created"));
    for event in &ours {
        let rows = replay_value(&ctx, "backfill", event.clone()).await;
        assert_eq!(rows[0].outcome, "applied", "{rows:?}");
        assert_eq!(rows[0].route, "direct");
    }
    for event in &ours {
        let rows = replay_value(&ctx, "backfill", event.clone()).await;
        assert_eq!(
            rows[0].outcome, "duplicate",
            "re-running a backfill changes nothing"
        );
    }
    let state = customer_state(&ctx.store, customer).await.expect("state");
    assert!(state.profile.is_some());
    assert_eq!(state.subscriptions.len(), 1);
    let _ = std::fs::remove_dir_all(dir);
}

/// DELETEs an object in localstripe (stdlib Python, the same auth the seed script uses).
fn localstripe_delete(path: &str) {
    let script = r#"
import base64, os, sys, urllib.request
auth = "Basic " + base64.b64encode((os.environ["STRIPE_API_KEY"] + ":").encode()).decode()
req = urllib.request.Request(os.environ["STRIPE_API_BASE"] + sys.argv[1], method="DELETE", headers={"Authorization": auth})
urllib.request.urlopen(req, timeout=10).read()
"#;
    let status = Command::new(repo().join(".venv/bin/python"))
        .args(["-c", script, path])
        .status()
        .expect("python");
    assert!(status.success(), "DELETE {path}");
}

fn handler_for(
    ctx: &Context,
    family: stripe_events_core::Family,
    revalidate: &[&str],
) -> stripe_events_consumer::Consumer<DynamoStore, Arc<StripeHydrator>> {
    let mut config = ctx.handler(family).expect("handler").config.clone();
    config.revalidate_types = revalidate.iter().map(|t| t.to_string()).collect();
    stripe_events_consumer::Consumer {
        config,
        store: ctx.store.clone(),
        hydrator: ctx.stripe.clone(),
    }
}

#[tokio::test]
async fn revalidated_snapshot_types_are_fetched_and_others_are_not() {
    let ctx = context().await;
    let dir = std::env::temp_dir().join(format!("stripe-events-reval-{}", std::process::id()));
    let seeded = seed(&dir, "user_reval_1");
    let (customer, sub) = (
        seeded["customer"].as_str().expect("c"),
        seeded["subscription"].as_str().expect("s"),
    );
    // A snapshot whose payload says past_due; the API (localstripe) says active. Created a
    // minute ago: a fetch in the second of the stored state would tie with it (same rank)
    // and be fetched again.
    let event = serde_json::json!({
        "id": format!("evt_reval_{}", std::process::id()), "object": "event",
        "type": "customer.subscription.updated", "created": Timestamp::now().unix_seconds() - 60,
        "data": {"object": {"id": sub, "object": "subscription", "customer": customer, "status": "past_due"}}
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let plain = handler_for(&ctx, stripe_events_core::Family::Subscription, &[]);
    let before = ctx.stripe.calls();
    let report = plain.handle(event.clone(), deadline).await;
    assert_eq!(
        report.records[0].outcome,
        stripe_events_consumer::Outcome::Applied
    );
    assert_eq!(
        ctx.stripe.calls(),
        before,
        "snapshots are not fetched by default"
    );
    let state = customer_state(&ctx.store, customer).await.expect("state");
    assert_eq!(state.subscriptions[0]["status"], "past_due");

    let revalidating = handler_for(
        &ctx,
        stripe_events_core::Family::Subscription,
        &["customer.subscription.updated"],
    );
    let mut newer = event.clone();
    newer["id"] = Value::from(format!("evt_reval2_{}", std::process::id()));
    let report = revalidating.handle(newer, deadline).await;
    assert_eq!(
        report.records[0].outcome,
        stripe_events_consumer::Outcome::Applied
    );
    assert_eq!(
        ctx.stripe.calls(),
        before + 1,
        "one fetch for the revalidated type"
    );
    let state = customer_state(&ctx.store, customer).await.expect("state");
    assert_eq!(
        state.subscriptions[0]["status"], "active",
        "the API's current state wins"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn thin_deletion_of_a_gone_object_is_recorded_as_the_deletion() {
    let ctx = context().await;
    let dir = std::env::temp_dir().join(format!("stripe-events-del-{}", std::process::id()));
    let seeded = seed(&dir, "user_deleted_1");
    let customer = seeded["customer"].as_str().expect("customer").to_owned();
    // The profile exists first (hydrated from the thin customer.updated).
    let bytes = std::fs::read(dir.join("thin-note-customer-updated.json")).expect("event");
    assert_eq!(
        replay_bytes(&ctx, "update", &bytes).await[0].outcome,
        "applied"
    );
    localstripe_delete(&format!("/v1/customers/{customer}"));
    let deleted = serde_json::json!({
        "source": "aws.partner/stripe.com/ed_test_x", "detail-type": "customer.deleted",
        "detail": {"id": format!("evt_del_{}", std::process::id()), "type": "customer.deleted",
                   "created": Timestamp::now().unix_seconds(),
                   "data": {"object": {"id": customer, "object": "customer"}}}
    });
    let rows = replay_value(&ctx, "deleted", deleted).await;
    assert_eq!(
        rows[0].outcome, "applied",
        "404 on a *.deleted event is the deletion: {rows:?}"
    );
    let state = customer_state(&ctx.store, &customer).await.expect("state");
    let profile = state.profile.expect("profile kept");
    assert_eq!(profile["deleted"], true);
    assert_eq!(
        profile["email"], "ada@example.com",
        "the final state is kept"
    );

    // A 404 on a non-deletion event is permanent, and is not marked done.
    let unknown = serde_json::json!({
        "source": "aws.partner/stripe.com/ed_test_x", "detail-type": "customer.updated",
        "detail": {"id": format!("evt_gone_{}", std::process::id()), "type": "customer.updated",
                   "created": Timestamp::now().unix_seconds(),
                   "data": {"object": {"id": "cus_doesnotexist", "object": "customer"}}}
    });
    assert_eq!(
        replay_value(&ctx, "gone", unknown.clone()).await[0].outcome,
        "failed_permanent"
    );
    assert_eq!(
        replay_value(&ctx, "gone", unknown).await[0].outcome,
        "failed_permanent"
    );
    let _ = std::fs::remove_dir_all(dir);
}

//! `roundtrips`: DynamoDB requests (SDK interceptor) and Stripe calls per event against moto
//! and localstripe, with the production clients.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use stripe_events_bench::uniquify;
use stripe_events_consumer::{Consumer, ConsumerConfig};
use stripe_events_core::Family;
use stripe_events_store::{dynamodb_client, DynamoStore, RequestCounter, TableNames};
use stripe_events_stripe::StripeHydrator;
use stripe_events_testkit::fixtures::fixture;
use stripe_events_testkit::stack::{fresh_tables, local_endpoint, sdk_config_for};
use stripe_events_testkit::stripe::LocalStripe;

type LiveConsumer = Consumer<DynamoStore, Arc<StripeHydrator>>;

fn live_consumer(
    family: Family,
    client: &aws_sdk_dynamodb::Client,
    tables: &TableNames,
    hydrator: &Arc<StripeHydrator>,
) -> LiveConsumer {
    Consumer {
        config: ConsumerConfig::new(family, tables.clone()),
        store: DynamoStore::new(client.clone(), tables.clone()),
        hydrator: Arc::clone(hydrator),
    }
}

/// One event through the production handler; what it cost.
struct Probe<'a> {
    counter: &'a RequestCounter,
    hydrator: &'a StripeHydrator,
    command: &'a str,
}

impl Probe<'_> {
    async fn run(
        &self,
        case: &str,
        target: (&str, &str),
        consumer: &LiveConsumer,
        payload: Value,
    ) -> Value {
        self.counter.reset();
        let stripe_before = self.hydrator.calls();
        let report = consumer
            .handle(payload, Instant::now() + Duration::from_secs(20))
            .await;
        let ops = self.counter.snapshot();
        let stripe = self.hydrator.calls() - stripe_before;
        let outcome = report
            .records
            .iter()
            .map(|r| match &r.detail {
                Some(d) if r.outcome.as_str().starts_with("failed") => {
                    format!("{} ({d})", r.outcome)
                }
                _ => r.outcome.to_string(),
            })
            .collect::<Vec<_>>()
            .join(",");
        let dynamodb: u64 = ops.values().sum();
        eprintln!("bench: {case}: {outcome}, DynamoDB {ops:?}, Stripe {stripe}");
        json!({
            "case": case,
            "consumer": consumer.config.consumer.as_str(),
            "outcome": outcome,
            "dynamodb": dynamodb,
            "dynamodb_ops": ops,
            "stripe": stripe,
            "target_dynamodb": target.0,
            "target_stripe": target.1,
            "command": self.command,
        })
    }
}

pub(crate) async fn roundtrips(command: &str) -> Vec<Value> {
    let endpoint = local_endpoint().unwrap_or_else(|e| panic!("{e}"));
    let sdk = sdk_config_for(&endpoint).await;
    let counter = RequestCounter::new();
    let client = dynamodb_client(&sdk, Some(counter.clone()));
    let tables = fresh_tables(&client).await.expect("fresh tables in moto");
    let hydrator = Arc::new(
        StripeHydrator::from_env()
            .await
            .expect("Stripe settings (STRIPE_API_BASE, STRIPE_API_KEY from stack.sh)"),
    );
    let subs = live_consumer(Family::Subscription, &client, &tables, &hydrator);
    let pays = live_consumer(Family::Payment, &client, &tables, &hydrator);
    let cuss = live_consumer(Family::Customer, &client, &tables, &hydrator);
    let probe = Probe {
        counter: &counter,
        hydrator: &hydrator,
        command,
    };

    // Objects the thin events point to, in localstripe (free plan: no card needed).
    let local = LocalStripe::from_env().unwrap_or_else(|e| panic!("{e}"));
    let created = local
        .subscription("bench@example.com", "bench_user")
        .await
        .unwrap_or_else(|e| panic!("localstripe: {e}"));
    let cus_id = created.customer["id"]
        .as_str()
        .expect("customer id")
        .to_owned();
    let sub = created.subscription;
    let sub_id = sub["id"].as_str().expect("subscription id").to_owned();
    let tag = std::process::id();

    let mut rows = Vec::new();
    let one = ("1", "0");
    let at_most_one = ("≤ 1", "0");
    // A delivery by a path the audit has not seen yet: the cancelled transaction, then the
    // UpdateItem recording the path (stripe-events-store, lib.rs).
    let new_path = ("2", "0");

    let mut snap = fixture("partner-snapshot/subscription-created.json");
    uniquify(&mut snap, 1);
    rows.push(
        probe
            .run("snapshot 5.6 KB, new", one, &subs, snap.clone())
            .await,
    );
    rows.push(
        probe
            .run(
                "snapshot, duplicate (same path)",
                at_most_one,
                &subs,
                snap.clone(),
            )
            .await,
    );
    let mut webhook = fixture("webhook/subscription-created.json");
    uniquify(&mut webhook, 1);
    rows.push(
        probe
            .run(
                "snapshot, duplicate by a new path (same event via webhook)",
                new_path,
                &subs,
                webhook,
            )
            .await,
    );
    let mut stale = snap.clone();
    let created = stale["detail"]["created"].as_i64().expect("created");
    stale["detail"]["id"] = Value::from(format!("evt_bench_stale_{tag}"));
    stale["detail"]["created"] = Value::from(created - 60);
    rows.push(
        probe
            .run(
                "snapshot, stale (older than stored)",
                ("–", "0"),
                &subs,
                stale,
            )
            .await,
    );
    let mut large = fixture("partner-snapshot/subscription-large.json");
    uniquify(&mut large, 1);
    rows.push(
        probe
            .run("snapshot 10 KB (6 items), new", one, &subs, large)
            .await,
    );
    let mut invoice = fixture("partner-snapshot/invoice-paid.json");
    uniquify(&mut invoice, 1);
    rows.push(
        probe
            .run("snapshot invoice.paid, new", one, &pays, invoice)
            .await,
    );

    // Thin v2 pointing at localstripe's subscription; no snapshot_event: keyed by its own id.
    let mut thin = fixture("partner-thin/subscription-created.json");
    {
        let d = &mut thin["detail"];
        d["id"] = Value::from(format!("evt_test_bench_thin_{tag}"));
        if let Some(o) = d.as_object_mut() {
            o.remove("snapshot_event");
        }
        d["related_object"]["id"] = Value::from(sub_id.clone());
        d["related_object"]["url"] = Value::from(format!("/v1/subscriptions/{sub_id}"));
    }
    rows.push(
        probe
            .run("thin v2, new", ("–", "1"), &subs, thin.clone())
            .await,
    );
    rows.push(
        probe
            .run("thin v2, duplicate", at_most_one, &subs, thin)
            .await,
    );
    // A thin event whose snapshot_event was applied above (both destinations enabled).
    let mut thin_after_snap = fixture("partner-thin/subscription-created.json");
    uniquify(&mut thin_after_snap, 1);
    rows.push(
        probe
            .run(
                "thin v2 after its snapshot (snapshot_event done)",
                at_most_one,
                &subs,
                thin_after_snap,
            )
            .await,
    );
    // The legacy thin reference: data.object {id, object} → GET /v1/customers/{id}.
    let mut note = fixture("note-thin/customer-updated.json");
    note["detail"]["id"] = Value::from(format!("evt_bench_note_{tag}"));
    note["detail"]["data"]["object"]["id"] = Value::from(cus_id.clone());
    rows.push(
        probe
            .run("thin (note shape), new", ("–", "1"), &cuss, note.clone())
            .await,
    );
    rows.push(
        probe
            .run("thin (note shape), duplicate", at_most_one, &cuss, note)
            .await,
    );
    rows
}

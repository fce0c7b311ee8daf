//! `batch`: the wall time of an SQS batch of 10 new snapshot events (distinct subscriptions
//! and customers) through the production handler and DynamoDB client, against moto behind
//! [`crate::responder::delaying_proxy`] (a fixed delay per request, as a network round trip
//! would add), records processed concurrently (`SQS_RECORD_CONCURRENCY`, default 10) and
//! one at a time (1); next to one event alone (one round trip). The same against the instant
//! responder behind the same proxy: moto serves one request at a time (and takes tens of
//! milliseconds for a transaction on a busy machine), so against moto the batch's wall time
//! also holds ten of moto's own service times, which no client can overlap; the responder
//! shows the overlap of the round trips alone.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use stripe_events_bench::{median, wire_string};
use stripe_events_consumer::config::DEFAULT_RECORD_CONCURRENCY;
use stripe_events_consumer::{Consumer, ConsumerConfig};
use stripe_events_core::Family;
use stripe_events_store::{dynamodb_client, DynamoStore};
use stripe_events_testkit::fixtures::fixture;
use stripe_events_testkit::stack::{fresh_tables, local_endpoint, sdk_config_for};
use stripe_events_testkit::stripe::FixtureStripe;

use crate::responder::{delaying_proxy, instant_aws};

/// A new snapshot event about its own subscription and customer (`tag`, `n`).
fn event(tag: u64, n: u64) -> Value {
    let mut e = fixture("partner-snapshot/subscription-created.json");
    let d = &mut e["detail"];
    d["id"] = Value::from(format!("evt_bench_batch_{tag}_{n}"));
    let o = &mut d["data"]["object"];
    o["id"] = Value::from(format!("sub_bench_batch_{tag}_{n}"));
    o["customer"] = Value::from(format!("cus_bench_batch_{tag}_{n}"));
    e
}

/// An SQS batch (the shape of `fixtures/sqs/batch-10.json`) of these events.
fn sqs_batch(events: &[Value]) -> Value {
    let template = fixture("sqs/batch-10.json")["Records"][0].clone();
    let records: Vec<Value> = events
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let mut r = template.clone();
            r["messageId"] = Value::from(format!("bench-message-{i}"));
            r["body"] = Value::from(wire_string(e));
            r
        })
        .collect();
    json!({ "Records": records })
}

pub async fn batch(delay: Duration, repeats: u32, command: &str) -> Value {
    let moto = local_endpoint().unwrap_or_else(|e| panic!("{e}"));
    let direct = dynamodb_client(&sdk_config_for(&moto).await, None);
    let tables = fresh_tables(&direct).await.expect("fresh tables in moto");
    let against_moto = measure(&moto, &tables, delay, repeats, "moto").await;
    let instant = instant_aws().await;
    let against_instant = measure(&instant.url(), &tables, delay, repeats, "instant").await;
    json!({
        "delay_ms": delay.as_millis() as u64,
        "repeats": repeats,
        "concurrency": DEFAULT_RECORD_CONCURRENCY,
        "moto": against_moto,
        "instant": against_instant,
        "command": command,
    })
}

async fn measure(
    upstream: &str,
    tables: &stripe_events_store::TableNames,
    delay: Duration,
    repeats: u32,
    label: &str,
) -> Value {
    let proxy = delaying_proxy(upstream, delay).await;
    let tables = tables.clone();
    let proxied = dynamodb_client(&sdk_config_for(&proxy.url()).await, None);
    let consumer = |concurrency: usize| {
        let mut config = ConsumerConfig::new(Family::Subscription, tables.clone());
        config.record_concurrency = concurrency;
        Consumer {
            config,
            store: DynamoStore::new(proxied.clone(), tables.clone()),
            hydrator: FixtureStripe::from_snapshots(),
        }
    };
    let mut tag = 0u64;
    let mut next_tag = || {
        tag += 1;
        tag
    };
    let mut run = async |c: &Consumer<DynamoStore, FixtureStripe>, size: u64| {
        let t = next_tag();
        let events: Vec<Value> = (0..size).map(|n| event(t, n)).collect();
        let payload = if size == 1 {
            events[0].clone()
        } else {
            sqs_batch(&events)
        };
        let started = Instant::now();
        let report = c
            .handle(payload, Instant::now() + Duration::from_secs(30))
            .await;
        let ms = started.elapsed().as_secs_f64() * 1e3;
        let outcomes: Vec<String> = report
            .records
            .iter()
            .map(|r| r.outcome.to_string())
            .collect();
        (ms, outcomes)
    };
    let concurrent = consumer(DEFAULT_RECORD_CONCURRENCY);
    let sequential = consumer(1);
    // Connections warmed up.
    run(&concurrent, 10).await;
    let (mut one, mut par, mut seq) = (Vec::new(), Vec::new(), Vec::new());
    let mut outcomes = std::collections::BTreeMap::<String, u64>::new();
    for _ in 0..repeats {
        one.push(run(&concurrent, 1).await.0);
        let (ms, o) = run(&concurrent, 10).await;
        par.push(ms);
        for x in o {
            *outcomes.entry(x).or_default() += 1;
        }
        seq.push(run(&sequential, 10).await.0);
    }
    let (one, par, seq) = (median(&one), median(&par), median(&seq));
    eprintln!(
        "bench: batch: {label} +{} ms per request: one event {one:.1} ms, batch of 10 concurrent {par:.1} ms ({:.1} round trips), one at a time {seq:.1} ms ({:.1}); outcomes {outcomes:?}",
        delay.as_millis(),
        par / one,
        seq / one
    );
    json!({
        "one_event_ms": one,
        "batch10_concurrent_ms": par,
        "batch10_sequential_ms": seq,
        "concurrent_outcomes": outcomes,
    })
}

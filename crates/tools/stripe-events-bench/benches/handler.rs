//! Handler cost on one core, on the production path of `runtime.rs`: the invocation body's
//! bytes → `Consumer::answer` (parse into the typed model → detect → dedupe → hydrate →
//! project → commit → reply and EMF line) → the reply's bytes, over `MemoryStore` and an
//! in-memory hydrator
//! (`stripe_events_testkit::stripe::FixtureStripe`: serves the stored object's bytes, no network). No tracing subscriber,
//! except in `*_logged`, which installs the Lambda's JSON log format writing to a sink.
//!
//! Payloads are compact JSON in the key order EventBridge and Stripe send
//! (`stripe_events_bench::WireOrder`).
//!
//! `*_new` cases give every iteration a new Stripe event id and a later `created` (set up
//! outside the timed part), so each is applied; `*_duplicate` sends one already-applied
//! payload again. Results: target/criterion/handler/<case>/new/estimates.json (time per
//! payload; the batch holds 10 events). `make bench` prints them per event.

use std::time::{Duration, Instant};

use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use serde_json::Value;
use stripe_events_bench::{bench_consumer as consumer, uniquify, wire_bytes, BenchConsumer};
use stripe_events_consumer::InvocationReport;
use stripe_events_core::Family;
use stripe_events_testkit::fixtures::fixture;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn deadline() -> Instant {
    Instant::now() + Duration::from_secs(10)
}

/// What the Lambdas run per invocation (`runtime::HandleBody`): body in, reply bytes out.
fn answer(rt: &tokio::runtime::Runtime, c: &BenchConsumer, bytes: &[u8]) -> Vec<u8> {
    rt.block_on(c.answer(bytes, deadline())).reply.to_body()
}

/// The same run, with its report, to print what one payload does.
fn report(rt: &tokio::runtime::Runtime, c: &BenchConsumer, bytes: &[u8]) -> InvocationReport {
    rt.block_on(c.handle(bytes, deadline()))
}

fn outcomes(r: &InvocationReport) -> String {
    r.counts()
        .iter()
        .map(|(o, n)| format!("{o}:{n}"))
        .collect::<Vec<_>>()
        .join(",")
}

struct Case {
    name: &'static str,
    fixture: &'static str,
    family: Family,
    events: u64,
}

const CASES: [Case; 3] = [
    Case {
        name: "snapshot_10kb",
        fixture: "partner-snapshot/subscription-large.json",
        family: Family::Subscription,
        events: 1,
    },
    Case {
        name: "thin",
        fixture: "partner-thin/subscription-created.json",
        family: Family::Subscription,
        events: 1,
    },
    Case {
        name: "sqs_batch10",
        fixture: "sqs/batch-10.json",
        family: Family::Subscription,
        events: 10,
    },
];

fn new_events(c: &mut Criterion, case: &Case, suffix: &str, logged: bool) {
    let rt = runtime();
    let consumer = consumer(case.family);
    let template = fixture(case.fixture);
    let mut n = 0u64;
    let mut next_payload = move || {
        n += 1;
        let mut v = template.clone();
        uniquify(&mut v, n);
        wire_bytes(&v)
    };
    // What one new payload does (printed once, so the figures can be read correctly).
    let probe = report(&rt, &consumer, &next_payload());
    eprintln!("{}{suffix}: one payload → {}", case.name, outcomes(&probe));
    let mut run = |c: &mut Criterion| {
        let mut group = c.benchmark_group("handler");
        group.throughput(Throughput::Elements(case.events));
        group.bench_function(format!("{}{suffix}", case.name), |b| {
            b.iter_batched(
                &mut next_payload,
                |bytes| black_box(answer(&rt, &consumer, &bytes)),
                BatchSize::SmallInput,
            )
        });
        group.finish();
    };
    if logged {
        // The Lambdas' own subscriber (stripe-events-lambda), JSON lines at `info`.
        let subscriber = stripe_events_lambda::subscriber(
            stripe_events_lambda::LogFormat::Json,
            stripe_events_lambda::at_level(tracing::Level::INFO),
            std::io::sink,
        );
        tracing::subscriber::with_default(subscriber, || run(c));
    } else {
        run(c);
    }
}

fn duplicates(c: &mut Criterion, case: &Case) {
    let rt = runtime();
    let consumer = consumer(case.family);
    let bytes = wire_bytes(&fixture(case.fixture));
    let first = report(&rt, &consumer, &bytes);
    let again = report(&rt, &consumer, &bytes);
    eprintln!(
        "{}_duplicate: first delivery → {}, again → {}",
        case.name,
        outcomes(&first),
        outcomes(&again)
    );
    let mut group = c.benchmark_group("handler");
    group.throughput(Throughput::Elements(case.events));
    group.bench_function(format!("{}_duplicate", case.name), |b| {
        b.iter(|| black_box(answer(&rt, &consumer, &bytes)))
    });
    group.finish();
}

/// Where the time of a 10 KB snapshot goes: the typed parse alone,
/// and for comparison the JSON floor (tokenising and validating into nothing) and a full
/// `serde_json::Value`.
fn attribution(c: &mut Criterion) {
    let bytes = wire_bytes(&fixture(CASES[0].fixture));
    let mut group = c.benchmark_group("handler");
    group.throughput(Throughput::Elements(1));
    group.bench_function("snapshot_10kb_parse_typed", |b| {
        b.iter(|| {
            let inv = stripe_events_core::parse_bytes(black_box(&bytes)).expect("parses");
            black_box(inv.records[0].delivery().is_ok())
        })
    });
    // The same bytes with every key sorted (`detail` before `detail-type`, the object's
    // fields before its `object`): the kind is not known in advance and the keys before
    // `object` are scanned twice. No producer sends this order; it bounds what one costs.
    let sorted = serde_json::to_vec(&fixture(CASES[0].fixture)).expect("serialise");
    group.bench_function("snapshot_10kb_parse_typed_sorted_keys", |b| {
        b.iter(|| {
            let inv = stripe_events_core::parse_bytes(black_box(&sorted)).expect("parses");
            black_box(inv.records[0].delivery().is_ok())
        })
    });
    // The floor of any serde_json-based handler: tokenising and validating the bytes while
    // keeping nothing.
    group.bench_function("snapshot_10kb_parse_ignored", |b| {
        b.iter(|| {
            black_box(
                serde_json::from_slice::<serde::de::IgnoredAny>(black_box(&bytes)).expect("JSON"),
            )
        })
    });
    group.bench_function("snapshot_10kb_parse_full_value", |b| {
        b.iter(|| black_box(serde_json::from_slice::<Value>(black_box(&bytes)).expect("JSON")))
    });
    group.finish();
}

fn handler(c: &mut Criterion) {
    attribution(c);
    for case in &CASES {
        new_events(c, case, "_new", false);
        duplicates(c, case);
    }
    new_events(c, &CASES[0], "_new_logged", true);
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(50)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    targets = handler
}
criterion_main!(benches);

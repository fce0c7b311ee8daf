//! Profiling aid: `Consumer::answer` (what the Lambdas run) over pre-built new 10 KB snapshots, nothing else in the
//! timed loop (run under `perf record -D <ms>` to skip the set-up). `handle_loop N build-only`
//! builds the payloads and stops: instructions per event = (full − build-only) / N;
//! `parse-only` and `ignored` run only the typed parse or serde_json's `IgnoredAny` scan;
//! `dup:<fixture>` answers that fixture's payload N times after a first delivery (the
//! duplicate path; it builds no 10 KB payloads, so subtract `dup:<fixture>` with N = 0).
use std::time::{Duration, Instant};

use stripe_events_bench::{bench_consumer, uniquify, wire_bytes};
use stripe_events_core::Family;
// Linked for its global allocator: the one the Lambdas run with.
use stripe_events_lambda as _;
use stripe_events_testkit::fixtures::fixture;

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20_000);
    let mode = std::env::args().nth(2).unwrap_or_default();
    let consumer = bench_consumer(Family::Subscription);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    if let Some(dup) = mode.strip_prefix("dup:") {
        // Only the one payload: the 10 KB payloads below are not built.
        let bytes = wire_bytes(&fixture(dup));
        let deadline = || Instant::now() + Duration::from_secs(10);
        rt.block_on(consumer.answer(&bytes, deadline()));
        let t = Instant::now();
        for _ in 0..n {
            let answer = rt.block_on(consumer.answer(&bytes, deadline()));
            std::hint::black_box(answer.reply.to_body());
        }
        let each = t.elapsed().as_secs_f64() * 1e6 / n as f64;
        eprintln!("answered the same payload {n} times: {each:.2} µs each");
        return;
    }
    let template = fixture("partner-snapshot/subscription-large.json");
    let t = Instant::now();
    let payloads: Vec<Vec<u8>> = (1..=n)
        .map(|i| {
            let mut v = template.clone();
            uniquify(&mut v, i);
            wire_bytes(&v)
        })
        .collect();
    eprintln!("built {n} payloads in {:?}", t.elapsed());
    match mode.as_str() {
        "build-only" => return,
        "parse-only" => {
            for p in &payloads {
                let inv = stripe_events_core::parse_bytes(p).map(|i| i.records.len());
                std::hint::black_box(inv.ok());
            }
            return;
        }
        "ignored" => {
            for p in &payloads {
                let r = serde_json::from_slice::<serde::de::IgnoredAny>(p);
                std::hint::black_box(r.ok());
            }
            return;
        }
        _ => {}
    }
    let t = Instant::now();
    for p in &payloads {
        let deadline = Instant::now() + Duration::from_secs(10);
        let answer = rt.block_on(consumer.answer(p, deadline));
        std::hint::black_box(answer.reply.to_body());
    }
    eprintln!(
        "handled {n} in {:?}: {:.2} µs each",
        t.elapsed(),
        t.elapsed().as_secs_f64() * 1e6 / n as f64
    );
    // Freeing 200 MB of payloads would dominate a profile of the loop above.
    std::mem::forget(payloads);
}

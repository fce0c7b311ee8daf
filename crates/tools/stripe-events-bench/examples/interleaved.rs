//! The 10 KB snapshot's three figures measured side by side, one of each per round on the
//! same fresh payload (so a noisy machine slows all three alike): serde_json's `IgnoredAny`
//! floor, the typed parse, and the whole handler (`Consumer::answer`, a new event). Prints the
//! median of each and the handler's ratio to the floor.
use std::time::{Duration, Instant};

use stripe_events_bench::{bench_consumer, quantile, uniquify, wire_bytes};
use stripe_events_core::Family;
// Linked for its global allocator: the one the Lambdas run with.
use stripe_events_lambda as _;
use stripe_events_testkit::fixtures::fixture;

fn main() {
    let rounds: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(5_000);
    let consumer = bench_consumer(Family::Subscription);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let template = fixture("partner-snapshot/subscription-large.json");
    let (mut floor, mut typed, mut handler) = (vec![], vec![], vec![]);
    let time = |f: &mut dyn FnMut()| {
        let t = Instant::now();
        f();
        t.elapsed().as_secs_f64() * 1e6
    };
    for i in 1..=rounds {
        let mut v = template.clone();
        uniquify(&mut v, i);
        let p = wire_bytes(&v);
        floor.push(time(&mut || {
            std::hint::black_box(serde_json::from_slice::<serde::de::IgnoredAny>(&p).ok());
        }));
        typed.push(time(&mut || {
            let inv = stripe_events_core::parse_bytes(&p);
            std::hint::black_box(inv.map(|i| i.records[0].delivery().is_ok()).ok());
        }));
        handler.push(time(&mut || {
            let deadline = Instant::now() + Duration::from_secs(10);
            let answer = rt.block_on(consumer.answer(&p, deadline));
            std::hint::black_box(answer.reply.to_body());
        }));
    }
    let (f, t, h) = (
        quantile(&floor, 0.5),
        quantile(&typed, 0.5),
        quantile(&handler, 0.5),
    );
    println!("median µs: floor {f:.2}  typed parse {t:.2}  handler {h:.2}  handler/floor {:.2}  parse/floor {:.2}", h / f, t / f);
}

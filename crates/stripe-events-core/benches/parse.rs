//! parse + detect + classify throughput for the three input sizes the Lambdas see.
//! Run with `cargo bench -p stripe-events-core --bench parse`; the whole-handler figures are
//! `make bench`'s. Inputs are compact JSON, as Lambda receives them (the fixture files are
//! pretty-printed).

use std::path::{Path, PathBuf};

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use stripe_events_core::parse_bytes;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

fn read(rel: &str) -> Vec<u8> {
    let path = fixtures().join(rel);
    compact(&std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
}

fn compact(pretty: &[u8]) -> Vec<u8> {
    let value: serde_json::Value = serde_json::from_slice(pretty).expect("fixture is JSON");
    serde_json::to_vec(&value).expect("serialise")
}

/// The SQS fixture with the most records (the 10-record batch).
fn largest_sqs_batch() -> Vec<u8> {
    let dir = fixtures().join("sqs");
    let mut best = (0, Vec::new());
    for entry in std::fs::read_dir(&dir).expect("fixtures/sqs") {
        let path = entry.expect("dir entry").path();
        let name = path.to_string_lossy();
        if !name.ends_with(".json") || name.ends_with(".expect.json") {
            continue;
        }
        let bytes = compact(&std::fs::read(&path).expect("fixture"));
        let n = parse_bytes(&bytes)
            .map(|inv| inv.records.iter().filter(|r| r.delivery().is_ok()).count())
            .unwrap_or(0);
        if n > best.0 {
            best = (n, bytes);
        }
    }
    best.1
}

fn first_fixture_in(dir: &str) -> Vec<u8> {
    let mut paths: Vec<_> = std::fs::read_dir(fixtures().join(dir))
        .expect("fixture dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let n = p.to_string_lossy();
            n.ends_with(".json") && !n.ends_with(".expect.json")
        })
        .collect();
    paths.sort();
    compact(&std::fs::read(&paths[0]).expect("fixture"))
}

fn bench(c: &mut Criterion) {
    let inputs = [
        (
            "snapshot_10kb",
            read("partner-snapshot/subscription-large.json"),
        ),
        ("thin_v2", first_fixture_in("partner-thin")),
        ("sqs_batch_10", largest_sqs_batch()),
    ];
    let mut group = c.benchmark_group("parse_detect_classify");
    for (name, bytes) in &inputs {
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_function(*name, |b| {
            b.iter(|| {
                // Every record read to its delivery (an SQS body is read here).
                let inv = parse_bytes(black_box(bytes)).expect("fixture parses");
                let read = inv.records.iter().filter(|r| r.delivery().is_ok()).count();
                black_box(read)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

//! Benchmarks of the stripe-events Lambdas (`make bench` → `run.sh`): shared pieces of the
//! criterion handler bench (`benches/handler.rs`) and the harness binary (`src/main.rs`:
//! cold start, round trips, the final table).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde_json::Value;
use stripe_events_core::hydrate::{Fetched, HydrateError, Hydrator};
use stripe_events_core::{Delivery, Timestamp};

/// `<repo>/fixtures`.
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

/// A fixture's bytes; panics with the path (harness code: a missing fixture is a broken
/// checkout).
pub fn fixture_bytes(rel: &str) -> Vec<u8> {
    let path = fixtures_dir().join(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn fixture(rel: &str) -> Value {
    serde_json::from_slice(&fixture_bytes(rel))
        .unwrap_or_else(|e| panic!("fixtures/{rel} is not JSON: {e}"))
}

/// Makes an event (EventBridge envelope or bare Stripe event) a new one: `n` is appended to
/// its Stripe id (and to the `snapshot_event` it names, so a thin/snapshot pair stays a
/// pair), and a unix `created` moves `n` seconds later, so each copy is a newer version of
/// the same object and is applied, not found stale.
pub fn uniquify_event(event: &mut Value, n: u64) {
    let detail = match event.get_mut("detail") {
        Some(d) if d.is_object() => d,
        _ => event,
    };
    for key in ["id", "snapshot_event"] {
        if let Some(Value::String(id)) = detail.get_mut(key) {
            id.push_str(&format!("x{n}"));
        }
    }
    if let Some(created) = detail.get("created").and_then(Value::as_i64) {
        detail["created"] = Value::from(created + n as i64);
    }
}

/// [`uniquify_event`] for every record of an SQS batch (bodies are JSON strings). Records
/// that shared an event id still share it.
pub fn uniquify_batch(batch: &mut Value, n: u64) {
    if let Some(records) = batch.get_mut("Records").and_then(Value::as_array_mut) {
        for r in records {
            let Some(body) = r.get("body").and_then(Value::as_str) else {
                continue;
            };
            if let Ok(mut event) = serde_json::from_str::<Value>(body) {
                uniquify_event(&mut event, n);
                r["body"] = Value::from(event.to_string());
            }
        }
    }
}

/// Any invocation payload: a batch when it has `Records`.
pub fn uniquify(payload: &mut Value, n: u64) {
    if payload.get("Records").is_some() {
        uniquify_batch(payload, n)
    } else {
        uniquify_event(payload, n)
    }
}

/// A [`Hydrator`] serving the snapshot fixtures' objects from memory, by object id. It keeps
/// each object as JSON bytes and parses them per fetch, like the Stripe client parses the
/// response body; the network is what it leaves out. Counts calls.
#[derive(Default)]
pub struct FixtureHydrator {
    objects: HashMap<String, Vec<u8>>,
    calls: std::sync::atomic::AtomicU64,
}

impl FixtureHydrator {
    /// Every `data.object` of `fixtures/partner-snapshot` and `fixtures/old-api`.
    pub fn from_snapshot_fixtures() -> Self {
        let mut objects = HashMap::new();
        for dir in ["partner-snapshot", "old-api"] {
            let entries = std::fs::read_dir(fixtures_dir().join(dir))
                .unwrap_or_else(|e| panic!("fixtures/{dir}: {e}"));
            for entry in entries.flatten() {
                let path = entry.path();
                let name = path.to_string_lossy();
                if !name.ends_with(".json") || name.ends_with(".expect.json") {
                    continue;
                }
                let Ok(event) =
                    serde_json::from_slice::<Value>(&std::fs::read(&path).unwrap_or_default())
                else {
                    continue;
                };
                let object = &event["detail"]["data"]["object"];
                if let Some(id) = object["id"].as_str() {
                    objects.insert(id.to_owned(), object.to_string().into_bytes());
                }
            }
        }
        FixtureHydrator {
            objects,
            calls: Default::default(),
        }
    }

    pub fn calls(&self) -> u64 {
        self.calls.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl Hydrator for FixtureHydrator {
    async fn fetch(&self, d: &Delivery<'_>, _deadline: Instant) -> Result<Fetched, HydrateError> {
        self.calls
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let bytes = self
            .objects
            .get(d.object_id())
            .ok_or_else(|| HydrateError::NotFound(d.object_id().to_owned()))?;
        Ok(Fetched {
            body: bytes.clone(),
            fetched_at: Timestamp::now(),
        })
    }
}

/// Median, and the value at quantile `q` (nearest rank), of unsorted samples.
pub fn quantile(samples: &[f64], q: f64) -> f64 {
    if samples.is_empty() {
        return f64::NAN;
    }
    let mut s = samples.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    let rank = ((q * s.len() as f64).ceil() as usize).clamp(1, s.len());
    s[rank - 1]
}

pub fn median(samples: &[f64]) -> f64 {
    if samples.is_empty() {
        return f64::NAN;
    }
    let mut s = samples.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    let m = s.len() / 2;
    if s.len() % 2 == 1 {
        s[m]
    } else {
        (s[m - 1] + s[m]) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uniquify_keeps_pairs_and_moves_created() {
        let mut batch = fixture("sqs/batch-10.json");
        uniquify_batch(&mut batch, 7);
        let bodies: Vec<Value> = batch["Records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| serde_json::from_str(r["body"].as_str().unwrap()).unwrap())
            .collect();
        assert_eq!(bodies[0]["detail"]["id"], "evt_1T7kpLLkdIwHu7ixe0b9b66Wx7");
        assert_eq!(
            bodies[1]["detail"]["snapshot_event"],
            bodies[0]["detail"]["id"]
        );
        assert_eq!(bodies[2]["detail"]["id"], bodies[0]["detail"]["id"]);
        assert_eq!(bodies[0]["detail"]["created"], 1_766_946_476 + 7);
        // Thin v2 `created` is an ISO string: left alone.
        assert!(bodies[1]["detail"]["created"].is_string());
    }

    #[test]
    fn stats() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(
            quantile(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0], 0.9),
            9.0
        );
    }
}

//! Benchmarks of the stripe-events Lambdas (`make bench` → `run.sh`): shared pieces of the
//! criterion handler bench (`benches/handler.rs`) and the harness binary (`src/main.rs`:
//! cold start, round trips, the final table). Fixtures and the in-memory Stripe come from
//! `stripe-events-testkit` (`fixtures::fixture`, `stripe::FixtureStripe`).

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Value;
use stripe_events_consumer::{Consumer, ConsumerConfig};
use stripe_events_core::Family;
use stripe_events_store::{MemoryStore, TableNames};
use stripe_events_testkit::stripe::FixtureStripe;

/// A consumer over the in-memory store and the fixtures' Stripe objects (no network): what
/// the handler bench and `examples/handle_loop` measure.
pub type BenchConsumer = Consumer<MemoryStore, FixtureStripe>;

pub fn bench_consumer(family: Family) -> BenchConsumer {
    Consumer {
        config: ConsumerConfig::new(family, TableNames::for_prefix("bench")),
        store: MemoryStore::new(),
        hydrator: FixtureStripe::from_snapshots(),
    }
}

/// The keys EventBridge and Stripe write first, in their order: an EventBridge envelope is
/// `version, id, detail-type, source, account, time, region, resources, detail`; a Stripe event
/// `id, object, api_version, created, data, livemode, pending_webhooks, request, type`; a Stripe
/// object `id, object`, then its fields.
const WIRE_FIRST: [&str; 12] = [
    "version",
    "id",
    "object",
    "detail-type",
    "source",
    "account",
    "time",
    "region",
    "resources",
    "api_version",
    "created",
    "data",
];
/// The keys both write last (`detail` of an envelope, `type` of a Stripe event).
const WIRE_LAST: [&str; 2] = ["detail", "type"];

/// A JSON value serialised in the key order EventBridge and Stripe send, not the sorted order
/// of `serde_json::Value`'s map: the handlers read `detail-type` before `detail` (the object's
/// kind, so the object is read in one pass), as they do in production.
pub struct WireOrder<'a>(pub &'a Value);

impl Serialize for WireOrder<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::Object(map) => {
                let rank = |k: &str| match (
                    WIRE_FIRST.iter().position(|f| *f == k),
                    WIRE_LAST.iter().position(|l| *l == k),
                ) {
                    (Some(i), _) => (0, i),
                    (None, Some(i)) => (2, i),
                    (None, None) => (1, 0),
                };
                let mut keys: Vec<&String> = map.keys().collect();
                // Stable: keys of equal rank keep the map's (sorted) order.
                keys.sort_by_key(|k| rank(k));
                let mut out = s.serialize_map(Some(keys.len()))?;
                for k in keys {
                    out.serialize_entry(k, &WireOrder(&map[k]))?;
                }
                out.end()
            }
            Value::Array(items) => s.collect_seq(items.iter().map(WireOrder)),
            other => other.serialize(s),
        }
    }
}

/// The compact JSON bytes of `v` in [`WireOrder`].
pub fn wire_bytes(v: &Value) -> Vec<u8> {
    serde_json::to_vec(&WireOrder(v)).unwrap_or_default()
}

/// The compact JSON text of `v` in [`WireOrder`].
pub fn wire_string(v: &Value) -> String {
    String::from_utf8(wire_bytes(v)).unwrap_or_default()
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
                r["body"] = Value::from(wire_string(&event));
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
    use stripe_events_testkit::fixtures::fixture;

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
    fn wire_order_is_eventbridge_then_stripe_order() {
        let text = wire_string(&fixture("partner-snapshot/subscription-large.json"));
        let at = |needle: &str| text.find(needle).unwrap_or(usize::MAX);
        assert!(at(r#""version""#) < at(r#""detail-type""#));
        assert!(at(r#""detail-type""#) < at(r#""detail""#));
        assert!(
            at(r#""data":{"object":{"id":"sub_"#) < usize::MAX,
            "id first: {text:.300}"
        );
        assert!(text.ends_with(r#""type":"customer.subscription.created"}}"#));
        let same: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(same, fixture("partner-snapshot/subscription-large.json"));
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

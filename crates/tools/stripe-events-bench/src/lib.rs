//! Benchmarks of the stripe-events Lambdas (`make bench` → `run.sh`): shared pieces of the
//! criterion handler bench (`benches/handler.rs`) and the harness binary (`src/main.rs`:
//! cold start, round trips, the final table). Fixtures and the in-memory Stripe come from
//! `stripe-events-testkit` (`fixtures::fixture`, `stripe::FixtureStripe`).

use serde_json::Value;

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
    fn stats() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(
            quantile(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0], 0.9),
            9.0
        );
    }
}

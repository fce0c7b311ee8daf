use std::collections::BTreeMap;
use std::fmt;

use serde_json::{json, Value};

/// What happened to one delivery (docs/architecture.md, processing contract).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Outcome {
    Applied,
    Duplicate,
    /// Older than the stored state; marked done without changing it.
    Stale,
    /// Not this consumer's type (or nothing to store): acknowledged and logged.
    Ignored,
    /// Bad payload or an object that cannot be fetched: acknowledged and logged.
    FailedPermanent,
    /// DynamoDB or Stripe unavailable: returned as an error so the platform retries.
    FailedTransient,
}

impl Outcome {
    pub const ALL: [Outcome; 6] = [
        Outcome::Applied,
        Outcome::Duplicate,
        Outcome::Stale,
        Outcome::Ignored,
        Outcome::FailedPermanent,
        Outcome::FailedTransient,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Applied => "applied",
            Outcome::Duplicate => "duplicate",
            Outcome::Stale => "stale",
            Outcome::Ignored => "ignored",
            Outcome::FailedPermanent => "failed_permanent",
            Outcome::FailedTransient => "failed_transient",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One CloudWatch Embedded Metric Format document with the count of each outcome, so
/// CloudWatch gets metrics from the log line without a PutMetricData call.
pub fn emf_line(consumer: &str, counts: &BTreeMap<Outcome, u32>, timestamp_ms: i64) -> Value {
    let metrics: Vec<Value> = Outcome::ALL
        .iter()
        .map(|o| json!({"Name": o.as_str(), "Unit": "Count"}))
        .collect();
    let mut doc = json!({
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": "StripeEvents",
                "Dimensions": [["consumer"]],
                "Metrics": metrics,
            }],
        },
        "consumer": consumer,
    });
    for o in Outcome::ALL {
        doc[o.as_str()] = json!(counts.get(&o).copied().unwrap_or(0));
    }
    doc
}

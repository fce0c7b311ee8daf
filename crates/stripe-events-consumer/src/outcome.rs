use std::collections::BTreeMap;
use std::fmt;
use std::sync::OnceLock;

use serde::Serialize;
use serde_json::value::RawValue;
use stripe_events_core::Timestamp;
use stripe_events_lambda::process_emf_level;

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
/// CloudWatch gets metrics from the log line without a PutMetricData call. Printed as one
/// bare JSON line on stdout; it carries `level` ([`stripe_events_lambda::emf_level`] of `AWS_LAMBDA_LOG_LEVEL`) and
/// an RFC 3339 `timestamp` so that Lambda's JSON log-level filtering keeps it.
pub fn emf_line(consumer: &str, counts: &BTreeMap<Outcome, u32>, timestamp_ms: i64) -> Vec<u8> {
    emf_line_at(consumer, counts, timestamp_ms, process_emf_level())
}

/// [`emf_line`] with an explicit `level`: the JSON line, newline included. The metric
/// directive is the same on every line, so it is serialized once per process; the rest is
/// serialized from plain structs (4 k instructions per invocation; the directive serialized
/// each time cost 11 k, a `serde_json::Value` built and serialized 43 k; callgrind
/// 2026-11-30).
pub fn emf_line_at(
    consumer: &str,
    counts: &BTreeMap<Outcome, u32>,
    timestamp_ms: i64,
    level: &str,
) -> Vec<u8> {
    let count = |o: Outcome| counts.get(&o).copied().unwrap_or(0);
    let doc = EmfDoc {
        aws: EmfMetadata {
            timestamp: timestamp_ms,
            cloud_watch_metrics: emf_directives(),
        },
        level,
        timestamp: Timestamp::from_unix_millis(timestamp_ms).to_rfc3339(),
        consumer,
        applied: count(Outcome::Applied),
        duplicate: count(Outcome::Duplicate),
        stale: count(Outcome::Stale),
        ignored: count(Outcome::Ignored),
        failed_permanent: count(Outcome::FailedPermanent),
        failed_transient: count(Outcome::FailedTransient),
    };
    // One allocation: the line is about 520 bytes.
    let mut line = Vec::with_capacity(640);
    // Serializing plain structs of strings and numbers into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut line, &doc);
    line.push(b'\n');
    line
}

/// `CloudWatchMetrics`: one directive naming every [`Outcome`] as a count by consumer.
fn emf_directives() -> &'static RawValue {
    static DIRECTIVES: OnceLock<Box<RawValue>> = OnceLock::new();
    DIRECTIVES.get_or_init(|| {
        let directives = [EmfDirective {
            namespace: "StripeEvents",
            dimensions: [["consumer"]],
            metrics: Outcome::ALL.map(|o| EmfMetric {
                name: o.as_str(),
                unit: "Count",
            }),
        }];
        // A fixed array of static strings always serializes; `null` would only drop metrics.
        serde_json::value::to_raw_value(&directives).unwrap_or_else(|_| RawValue::NULL.to_owned())
    })
}

/// The EMF document; one root number per [`Outcome`], named by [`Outcome::as_str`].
#[derive(Serialize)]
struct EmfDoc<'a> {
    #[serde(rename = "_aws")]
    aws: EmfMetadata<'a>,
    level: &'a str,
    timestamp: String,
    consumer: &'a str,
    applied: u32,
    duplicate: u32,
    stale: u32,
    ignored: u32,
    failed_permanent: u32,
    failed_transient: u32,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct EmfMetadata<'a> {
    timestamp: i64,
    #[serde(rename = "CloudWatchMetrics")]
    cloud_watch_metrics: &'a RawValue,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct EmfDirective {
    namespace: &'static str,
    dimensions: [[&'static str; 1]; 1],
    metrics: [EmfMetric; 6],
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct EmfMetric {
    name: &'static str,
    unit: &'static str,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};
    use stripe_events_lambda::{emf_level, lambda_keeps, LAMBDA_LOG_LEVELS};

    fn counts() -> BTreeMap<Outcome, u32> {
        BTreeMap::from([(Outcome::Applied, 2), (Outcome::FailedPermanent, 1)])
    }

    #[test]
    fn emf_survives_every_application_log_level() {
        for app in LAMBDA_LOG_LEVELS {
            let line = String::from_utf8(emf_line_at(
                "payment",
                &counts(),
                1_700_000_000_123,
                emf_level(Some(app)),
            ))
            .unwrap();
            let line = line.strip_suffix('\n').expect("ends the line");
            assert!(!line.contains('\n'), "one line");
            assert!(lambda_keeps(line, app), "{app}: {line}");
        }
        // Lower case, as AWS_LAMBDA_LOG_LEVEL may be written, and unset (Lambda's INFO).
        assert_eq!(emf_level(Some("warn")), "WARN");
        assert_eq!(emf_level(None), "INFO");
        assert_eq!(emf_level(Some("loud")), "INFO");
        // What the line looked like before: no level, so INFO, so dropped at WARN.
        let bare = json!({"_aws": {}, "consumer": "payment", "applied": 1}).to_string();
        assert!(!lambda_keeps(&bare, "WARN"));
    }

    #[test]
    fn emf_document_is_well_formed() {
        let doc: Value = serde_json::from_slice(&emf_line_at(
            "customer",
            &counts(),
            1_700_000_000_123,
            "WARN",
        ))
        .unwrap();
        assert_eq!(doc["_aws"]["Timestamp"], 1_700_000_000_123_i64);
        assert_eq!(doc["timestamp"], "2023-11-14T22:13:20.123Z");
        let directive = &doc["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "StripeEvents");
        for dims in directive["Dimensions"].as_array().into_iter().flatten() {
            for d in dims.as_array().into_iter().flatten() {
                assert!(doc[d.as_str().unwrap_or_default()].is_string(), "{d}");
            }
        }
        for m in directive["Metrics"].as_array().into_iter().flatten() {
            let name = m["Name"].as_str().unwrap_or_default();
            assert!(doc[name].is_u64(), "{name} is a root number");
        }
        assert_eq!(doc["applied"], 2);
        assert_eq!(doc["failed_permanent"], 1);
        assert_eq!(doc["failed_transient"], 0);
    }

    #[test]
    fn terraform_alarms_and_dashboard_name_these_metrics() {
        let tf = include_str!("../../../infra/monitoring.tf");
        let list = tf
            .split("consumer_outcomes = [")
            .nth(1)
            .and_then(|rest| rest.split(']').next())
            .expect("infra/monitoring.tf: local.consumer_outcomes");
        let names: Vec<&str> = list
            .split(',')
            .map(|n| n.trim().trim_matches('"'))
            .filter(|n| !n.is_empty())
            .collect();
        let ours: Vec<&str> = Outcome::ALL.iter().map(|o| o.as_str()).collect();
        assert_eq!(names, ours, "the dashboard's outcome list");
        for alarmed in [Outcome::FailedPermanent, Outcome::FailedTransient] {
            let line = format!("metric_name         = \"{alarmed}\"");
            assert!(tf.contains(&line), "an alarm on {alarmed}");
        }
        assert!(tf.contains("emf_namespace = \"StripeEvents\""));
    }
}

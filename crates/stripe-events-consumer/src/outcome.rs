use std::fmt;
use std::sync::OnceLock;

use stripe_events_lambda::emf::MetricSet;
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

/// The number of records of each outcome, in [`Outcome::ALL`]'s order.
pub type OutcomeTally = [u32; Outcome::ALL.len()];

impl Outcome {
    /// In the order of the enum, so that `outcome as usize` indexes an [`OutcomeTally`].
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

/// One CloudWatch Embedded Metric Format line with the count of each outcome, namespace
/// `StripeEvents`, by `consumer`: one bare JSON line on stdout, newline included. It carries
/// `level` ([`stripe_events_lambda::emf_level`] of `AWS_LAMBDA_LOG_LEVEL`) and an RFC 3339
/// `timestamp` so that Lambda's JSON log-level filtering keeps it.
pub fn emf_line(consumer: &str, counts: &OutcomeTally, timestamp_ms: i64) -> Vec<u8> {
    emf_line_at(consumer, counts, timestamp_ms, process_emf_level())
}

/// [`emf_line`] with an explicit `level`.
pub fn emf_line_at(
    consumer: &str,
    counts: &OutcomeTally,
    timestamp_ms: i64,
    level: &str,
) -> Vec<u8> {
    static METRICS: OnceLock<MetricSet> = OnceLock::new();
    let metrics = METRICS.get_or_init(|| {
        MetricSet::new(
            "StripeEvents",
            &[&["consumer"]],
            &Outcome::ALL.map(Outcome::as_str),
        )
    });
    metrics.line(timestamp_ms, level, &[consumer], counts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};
    use stripe_events_lambda::{emf_level, lambda_keeps, LAMBDA_LOG_LEVELS};

    fn counts() -> OutcomeTally {
        let mut tally = OutcomeTally::default();
        tally[Outcome::Applied as usize] = 2;
        tally[Outcome::FailedPermanent as usize] = 1;
        tally
    }

    #[test]
    fn all_is_in_enum_order() {
        for (i, o) in Outcome::ALL.iter().enumerate() {
            assert_eq!(*o as usize, i, "{o}");
        }
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

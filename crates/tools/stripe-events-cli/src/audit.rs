//! The migration audit: from the dedupe records, which events each path delivered. During the
//! webhook → partner migration, an event seen only by webhook is one the partner source missed
//! (the "confirm no missed events" step of docs/operations.md).

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use stripe_events_core::vocabulary::{attr, AuditPath};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Seen {
    Both,
    WebhookOnly,
    PartnerOnly,
    /// A partner path delivered it, and its latest attempt failed (`failed_<path>`: its
    /// object's fetch from Stripe, or the commit after it, failed): whatever else delivered
    /// it, the partner source alone would not have applied it.
    PartnerFailed,
    /// Only replays/backfills (`direct`).
    Neither,
}

impl Seen {
    pub fn as_str(self) -> &'static str {
        match self {
            Seen::Both => "both",
            Seen::WebhookOnly => "webhook only",
            Seen::PartnerOnly => "partner only",
            Seen::PartnerFailed => "partner failed",
            Seen::Neither => "direct only",
        }
    }
}

/// One event (per consumer) as the audit sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    pub consumer: String,
    pub event_type: String,
    pub key: String,
    pub seen: Seen,
    /// Partner arrival minus webhook arrival, when both delivered it.
    pub partner_delay_ms: Option<i64>,
    pub first_seen_ms: i64,
}

fn num(m: &Map<String, Value>, k: &str) -> Option<i64> {
    m.get(k).and_then(Value::as_i64)
}

pub fn classify(record: &Map<String, Value>) -> AuditEntry {
    let webhook = num(record, AuditPath::Webhook.seen_attr());
    let partner_paths = AuditPath::ALL.into_iter().filter(|p| p.is_partner());
    // A partner path delivered when it was seen and its latest attempt did not fail; seen by
    // one, but none delivered: the partner source failed it.
    let partner = partner_paths
        .clone()
        .filter(|p| !record.contains_key(p.failed_attr()))
        .filter_map(|p| num(record, p.seen_attr()))
        .min();
    let partner_seen = partner_paths
        .clone()
        .any(|p| record.contains_key(p.seen_attr()));
    let seen = match (webhook.is_some(), partner.is_some(), partner_seen) {
        (true, true, _) => Seen::Both,
        (false, true, _) => Seen::PartnerOnly,
        (_, false, true) => Seen::PartnerFailed,
        (true, false, false) => Seen::WebhookOnly,
        (false, false, false) => Seen::Neither,
    };
    let text = |k: &str| {
        record
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    AuditEntry {
        consumer: text(attr::CONSUMER),
        event_type: text(attr::EVENT_TYPE),
        key: text(attr::PK),
        seen,
        partner_delay_ms: webhook.zip(partner).map(|(w, p)| p - w),
        first_seen_ms: num(record, attr::FIRST_SEEN).unwrap_or(0),
    }
}

/// Counts per (consumer, type) and the median partner delay.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Summary {
    pub counts: BTreeMap<Seen, u64>,
    pub delays_ms: Vec<i64>,
}

impl Summary {
    /// The nearest-rank p50, as `migrate status` gives it.
    pub fn median_delay_ms(&self) -> Option<i64> {
        percentile(&self.delays_ms, 0.5)
    }
}

/// The nearest-rank percentile `p` (0–1) of `values`: the smallest value with at least `p` of
/// them at or below it. One definition for `audit` and `migrate status`.
pub fn percentile(values: &[i64], p: f64) -> Option<i64> {
    let mut v = values.to_vec();
    if v.is_empty() {
        return None;
    }
    v.sort_unstable();
    let rank = ((p * v.len() as f64).ceil() as usize).clamp(1, v.len());
    v.get(rank - 1).copied()
}

/// A partner lag (partner arrival minus webhook arrival) for a table cell: `+850 ms`,
/// `+2.4 s`, or `-1.7 s (partner first)` when the partner path delivered before the webhook.
pub fn format_lag(ms: i64) -> String {
    let size = if ms.abs() < 1000 {
        format!("{} ms", ms.abs())
    } else {
        format!("{:.1} s", ms.abs() as f64 / 1000.0)
    };
    if ms < 0 {
        format!("-{size} (partner first)")
    } else {
        format!("+{size}")
    }
}

/// The line under a table with a lag column.
pub const LAG_NOTE: &str = "partner lag = partner arrival minus webhook arrival of the same event \
(negative: the partner path delivered first; only events both paths delivered count)";

pub fn summarise(entries: &[AuditEntry]) -> BTreeMap<(String, String), Summary> {
    let mut out: BTreeMap<(String, String), Summary> = BTreeMap::new();
    for e in entries {
        let s = out
            .entry((e.consumer.clone(), e.event_type.clone()))
            .or_default();
        *s.counts.entry(e.seen).or_default() += 1;
        s.delays_ms.extend(e.partner_delay_ms);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rec(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn paths_classify_and_delays_measure() {
        let both = classify(&rec(
            json!({"pk": "payment#evt_1", "consumer": "payment", "event_type": "invoice.paid",
            "seen_webhook": 1_000, "seen_partner_thin": 1_900, "seen_partner_snapshot": 1_400}),
        ));
        assert_eq!(both.seen, Seen::Both);
        assert_eq!(
            both.partner_delay_ms,
            Some(400),
            "the first partner arrival counts"
        );
        let missed = classify(&rec(json!({"seen_webhook": 5})));
        assert_eq!(missed.seen, Seen::WebhookOnly);
        assert_eq!(
            classify(&rec(json!({"seen_partner_thin": 5}))).seen,
            Seen::PartnerOnly
        );
        assert_eq!(
            classify(&rec(json!({"seen_direct": 5}))).seen,
            Seen::Neither
        );
        let s = summarise(&[both.clone(), both, missed]);
        let row = &s[&("payment".to_owned(), "invoice.paid".to_owned())];
        assert_eq!(row.counts[&Seen::Both], 2);
        assert_eq!(row.median_delay_ms(), Some(400));
        // Nearest rank: of an even count, the lower middle value.
        assert_eq!(percentile(&[900, 100, 400, 700], 0.5), Some(400));
        assert_eq!(percentile(&[900, 100, 400, 700], 0.99), Some(900));
        assert_eq!(percentile(&[], 0.5), None);
    }

    #[test]
    fn a_partner_delivery_that_failed_is_not_a_delivery() {
        // The thin twin was recorded, its fetch failed; the webhook applied the event.
        let failed = classify(&rec(
            json!({"seen_webhook": 1_000, "seen_partner_thin": 900,
            "failed_partner_thin": 900}),
        ));
        assert_eq!(failed.seen, Seen::PartnerFailed);
        assert_eq!(
            failed.partner_delay_ms, None,
            "no lag for a failed delivery"
        );
        // Failed with no webhook delivery either: still the partner path's failure.
        let lost = classify(&rec(
            json!({"seen_partner_thin": 900, "failed_partner_thin": 900}),
        ));
        assert_eq!(lost.seen, Seen::PartnerFailed);
        // The snapshot path delivered it although the thin path failed: delivered.
        let other_path = classify(&rec(
            json!({"seen_webhook": 1_000, "seen_partner_thin": 900,
            "failed_partner_thin": 900, "seen_partner_snapshot": 1_200}),
        ));
        assert_eq!(other_path.seen, Seen::Both);
        assert_eq!(other_path.partner_delay_ms, Some(200));
    }

    #[test]
    fn lags_read_with_their_sign() {
        assert_eq!(format_lag(850), "+850 ms");
        assert_eq!(format_lag(2_400), "+2.4 s");
        assert_eq!(format_lag(-1_695), "-1.7 s (partner first)");
        assert_eq!(format_lag(0), "+0 ms");
    }
}

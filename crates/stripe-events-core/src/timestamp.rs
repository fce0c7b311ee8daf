//! One time type for Stripe's two encodings: unix seconds (snapshot events, objects) and
//! ISO-8601 strings (v2 thin notifications).

use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Milliseconds since the Unix epoch. Stripe's snapshot `created` has one-second resolution;
/// thin `created` and fetch times carry milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    pub const fn from_unix_millis(ms: i64) -> Self {
        Timestamp(ms)
    }

    pub const fn from_unix_seconds(s: i64) -> Self {
        Timestamp(s.saturating_mul(1000))
    }

    pub fn now() -> Self {
        let now = OffsetDateTime::now_utc();
        Timestamp((now.unix_timestamp_nanos() / 1_000_000) as i64)
    }

    pub const fn unix_millis(self) -> i64 {
        self.0
    }

    pub const fn unix_seconds(self) -> i64 {
        self.0.div_euclid(1000)
    }

    /// Parses an ISO-8601 / RFC 3339 string such as `2026-03-07T18:27:56.000Z`.
    pub fn parse_iso8601(s: &str) -> Option<Self> {
        let t = OffsetDateTime::parse(s, &Rfc3339).ok()?;
        Some(Timestamp((t.unix_timestamp_nanos() / 1_000_000) as i64))
    }

    /// Reads either encoding: a JSON integer of unix seconds or an ISO-8601 string.
    pub fn from_json(v: &Value) -> Option<Self> {
        match v {
            Value::Number(n) => n.as_i64().map(Timestamp::from_unix_seconds),
            Value::String(s) => Timestamp::parse_iso8601(s),
            _ => None,
        }
    }

    pub fn to_rfc3339(self) -> String {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.0) * 1_000_000)
            .ok()
            .and_then(|t| t.format(&Rfc3339).ok())
            .unwrap_or_else(|| self.0.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_encodings_meet() {
        let iso = Timestamp::parse_iso8601("2026-03-07T18:27:56.000Z");
        assert_eq!(iso, Some(Timestamp::from_unix_seconds(1_772_908_076)));
        let json = Timestamp::from_json(&serde_json::json!(1_772_908_076));
        assert_eq!(json, iso);
        assert_eq!(
            Timestamp::parse_iso8601("2026-03-07T19:27:56.250+01:00").map(Timestamp::unix_millis),
            Some(1_772_908_076_250)
        );
        assert_eq!(Timestamp::parse_iso8601("yesterday"), None);
        assert_eq!(Timestamp::from_json(&serde_json::json!(true)), None);
    }
}

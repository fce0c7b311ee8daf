//! The operator CLI's commands as library functions (tested against moto and localstripe);
//! `main.rs` only parses arguments and prints.

pub mod admin;
pub mod audit;
pub mod aws;
pub mod context;
pub mod event_types;
pub mod explain;
pub mod migrate;
pub mod ping;
pub mod replay;
pub mod setup;
pub mod state;
pub mod table;

use std::time::Duration;

/// The exit codes, the same for every command (listed by `stripe-events --help` and the README).
pub mod exit {
    /// Done; every input handled (`applied`, `duplicate`, `stale`, `ignored`).
    pub const OK: u8 = 0;
    /// Could not run: missing table, unreachable endpoint, missing Stripe key, … (one line
    /// on stderr naming the fix).
    pub const ERROR: u8 = 1;
    /// Bad arguments: unknown flag, event type or family, no `--types`/`--family`, a
    /// `--since` or a duration (`--window`, `--wait`, `--grace`) that does not parse, …
    pub const USAGE: u8 = 2;
    /// `replay`/`backfill`: some delivery failed transiently (DynamoDB or Stripe); run again.
    pub const RETRY: u8 = 3;
    /// `migrate cutover`: some types were not ready and were refused (`--force` overrides).
    pub const NOT_READY: u8 = 4;
    /// `replay`/`backfill`: some input was unreadable, unrouted or `failed_permanent`.
    pub const INPUT: u8 = 5;
    /// `state`: no billing state for that customer, or no customer with that user id.
    pub const NOT_FOUND: u8 = 6;
    /// `audit`: some event was missed by the partner source or failed on it.
    pub const NOT_PROVEN: u8 = 7;

    /// The `--help` text for the codes above.
    pub const HELP: &str = "\
Exit codes:
  0  done; every input handled (applied, duplicate, stale, ignored)
  1  could not run (missing table, unreachable endpoint, no Stripe key, ...);
     one line on stderr names the fix
  2  bad arguments (unknown flag, event type or family; a --since, --window, --wait
     or --grace that does not parse, ...)
  3  replay/backfill: a delivery failed transiently (DynamoDB or Stripe); run it again
  4  migrate cutover: types not ready were refused (--force overrides)
  5  replay/backfill: an input was unreadable, unrouted or failed_permanent (see its row)
  6  state: no billing state for that customer / no customer with that user id
  7  audit: an event was missed by the partner source or failed on it";
}

use stripe_events_core::Timestamp;

/// `2026-11-01`, `2026-11-01T12:00:00Z`, or a age such as `30m`, `24h`, `7d`.
pub fn parse_since(s: &str, now: Timestamp) -> Option<Timestamp> {
    if let Some(t) = Timestamp::parse_iso8601(s) {
        return Some(t);
    }
    if let Some(t) = Timestamp::parse_iso8601(&format!("{s}T00:00:00Z")) {
        return Some(t);
    }
    let (n, unit) = s.split_at(s.len().checked_sub(1)?);
    let n: u64 = n.parse().ok()?;
    let secs = match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => return None,
    };
    let age = Duration::from_secs(secs).as_millis() as i64;
    Some(Timestamp::from_unix_millis(now.unix_millis() - age))
}

/// A duration such as `500ms`, `30s`, `10m`, `2h`.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    if let Some(ms) = s.strip_suffix("ms") {
        return ms.parse().ok().map(Duration::from_millis);
    }
    let (n, unit) = s.split_at(s.len().checked_sub(1)?);
    let n: u64 = n.parse().ok()?;
    let secs = match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => return None,
    };
    Some(Duration::from_secs(secs))
}

/// A duration as [`parse_duration`] reads it, in its largest whole unit: `2s`, `10m`, `2h`,
/// `1500ms`.
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    let secs = d.as_secs();
    if !ms.is_multiple_of(1000) {
        format!("{ms}ms")
    } else if secs >= 3600 && secs.is_multiple_of(3600) {
        format!("{}h", secs / 3600)
    } else if secs >= 60 && secs.is_multiple_of(60) {
        format!("{}m", secs / 60)
    } else {
        format!("{secs}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_accepts_dates_and_ages() {
        let now = Timestamp::from_unix_seconds(1_000_000);
        assert_eq!(
            parse_since("2h", now),
            Some(Timestamp::from_unix_seconds(1_000_000 - 7200))
        );
        assert_eq!(
            parse_since("1970-01-02", now),
            Some(Timestamp::from_unix_seconds(86_400))
        );
        assert_eq!(parse_since("soon", now), None);
        assert_eq!(parse_since("", now), None);
    }

    #[test]
    fn durations_take_units() {
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("10m"), Some(Duration::from_secs(600)));
        assert_eq!(parse_duration("10"), None);
        for text in ["2s", "10m", "2h", "1500ms", "90s"] {
            let d = parse_duration(text);
            assert_eq!(d.map(format_duration).as_deref(), Some(text));
        }
    }
}

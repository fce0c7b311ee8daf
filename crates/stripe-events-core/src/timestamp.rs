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
        // Seconds and milliseconds apart: no 128-bit division and no calendar date, for a
        // call made several times per event.
        let since_epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let seconds = i64::try_from(since_epoch.as_secs()).unwrap_or(i64::MAX / 1000);
        Timestamp(seconds * 1000 + i64::from(since_epoch.subsec_millis()))
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

    /// `2023-11-14T22:13:20.123Z`; the fraction as RFC 3339 writers do (`time`'s
    /// `Rfc3339`): omitted when zero, trailing zeros dropped. Years outside 0000–9999 have no
    /// RFC 3339 form: the milliseconds are written as a number.
    pub fn to_rfc3339(self) -> String {
        let seconds = self.unix_seconds();
        let millis = self.0.rem_euclid(1000);
        let (year, month, day) = civil_from_days(seconds.div_euclid(86_400));
        if !(0..=9999).contains(&year) {
            return self.0.to_string();
        }
        let second_of_day = seconds.rem_euclid(86_400);
        // Written by hand into a fixed buffer: `time`'s formatter costs several times the
        // instructions, and every invocation's metrics line carries one.
        let mut text = *b"0000-00-00T00:00:00.000Z";
        put_digits(&mut text[0..4], year);
        put_digits(&mut text[5..7], month);
        put_digits(&mut text[8..10], day);
        put_digits(&mut text[11..13], second_of_day / 3600);
        put_digits(&mut text[14..16], second_of_day / 60 % 60);
        put_digits(&mut text[17..19], second_of_day % 60);
        let end = if millis == 0 {
            19
        } else {
            put_digits(&mut text[20..23], millis);
            // Trailing zeros of the fraction dropped, as RFC 3339 writers do.
            20 + 3
                - text[20..23]
                    .iter()
                    .rev()
                    .take_while(|d| **d == b'0')
                    .count()
        };
        text[end] = b'Z';
        // ASCII digits and separators: always UTF-8.
        std::str::from_utf8(&text[..=end])
            .unwrap_or_default()
            .to_owned()
    }
}

/// `value`'s last `slot.len()` decimal digits, zero-padded, into `slot`.
fn put_digits(slot: &mut [u8], value: i64) {
    let mut rest = value;
    for digit in slot.iter_mut().rev() {
        *digit = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
}

/// The proleptic Gregorian (year, month, day) of a count of days since 1970-01-01 (Howard
/// Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    (year_of_era + era * 400 + i64::from(month <= 2), month, day)
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

    /// What `time`'s RFC 3339 formatter writes, which the hand-written one replaces.
    fn by_time(t: Timestamp) -> String {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(t.unix_millis()) * 1_000_000)
            .ok()
            .and_then(|t| t.format(&Rfc3339).ok())
            .unwrap_or_else(|| t.unix_millis().to_string())
    }

    #[test]
    fn rfc3339_is_what_time_writes() {
        let mut samples = vec![
            0,
            -1,
            1,
            999,
            1_000,
            1_010,
            1_100,
            951_782_400_000,     // 2000-02-29
            4_107_542_400_000,   // 2100-03-01
            253_402_300_799_999, // 9999-12-31T23:59:59.999
            253_402_300_800_000, // year 10000: no RFC 3339 form
            -62_167_219_200_000, // 0000-01-01
            -62_167_219_200_001, // year -1
            1_700_000_000_123,
        ];
        // Every day of four centuries, at a moving time of day and fraction.
        let mut ms: i64 = -2_208_988_800_000; // 1900-01-01
        while ms < 10_413_792_000_000 {
            samples.push(ms);
            ms += 86_400_000 + 3_601_007;
        }
        for ms in samples {
            let t = Timestamp::from_unix_millis(ms);
            assert_eq!(t.to_rfc3339(), by_time(t), "{ms}");
        }
        assert_eq!(
            Timestamp::from_unix_millis(1_700_000_000_120).to_rfc3339(),
            "2023-11-14T22:13:20.12Z"
        );
    }

    #[test]
    fn now_is_the_clock() {
        let before = OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
        let now = i128::from(Timestamp::now().unix_millis());
        let after = OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
        assert!(before <= now && now <= after, "{before} {now} {after}");
    }
}

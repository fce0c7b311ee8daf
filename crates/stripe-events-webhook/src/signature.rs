//! Stripe webhook signatures (docs/stripe-and-eventbridge-facts.md), as plain functions.
//!
//! Header: `t=<unix seconds>,v1=<hex>[,v1=<hex>…][,v0=<hex>]`. The signed payload is
//! `"{t}.{raw body}"`, the MAC is HMAC-SHA256 keyed with the whole `whsec_…` string (as
//! Stripe's SDKs do). A request is authentic when any `v1` is the MAC of a fresh `t` under
//! any active secret; `v0` and unknown schemes are ignored. A header sent twice and joined by
//! a proxy (`t=T,v1=S, t=T,v1=S`, what API Gateway does with duplicate headers) is read as
//! one: every `t` and every `v1` of all its parts count (see [`parse_header`]). The timestamp
//! may be at most the tolerance old (an older one is a replay) and at most the tolerance, but
//! never less than [`MIN_FUTURE_SKEW_SECONDS`], ahead (see [`is_fresh`]). Comparison is
//! constant-time (`Mac::verify_slice`).

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use thiserror::Error;

use crate::secrets::WebhookSecrets;

type HmacSha256 = Hmac<Sha256>;

/// Stripe's default tolerance, in seconds.
pub const DEFAULT_TOLERANCE_SECONDS: i64 = 300;

/// How far ahead of our clock a signature's timestamp may be, at the least, whatever the
/// configured tolerance: a few minutes of clock skew between Stripe and Lambda must pass.
pub const MIN_FUTURE_SKEW_SECONDS: i64 = 300;

/// The header name as API Gateway / Function URLs deliver it (lowercase).
pub const HEADER_NAME: &str = "stripe-signature";

/// Longer headers are rejected before any parsing (a genuine one is ~150 bytes, ~220 during
/// a secret roll).
const MAX_HEADER_BYTES: usize = 4096;
/// More distinct `v1` signatures than this are rejected, so a request cannot buy unbounded
/// MAC compares (a genuine header has one, two during a secret roll; copies of one header
/// joined by a proxy repeat the same ones).
const MAX_V1_SIGNATURES: usize = 8;
/// More distinct `t` values than this are rejected: each fresh one costs a MAC over the whole
/// body per active secret. A genuine request has one; duplicate headers repeat it.
const MAX_TIMESTAMPS: usize = 4;
/// A SHA-256 MAC in hex.
const V1_HEX_LEN: usize = 64;

/// Why a request was not accepted as signed by Stripe. Logged by code only; the HTTP
/// response never says which.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum SignatureError {
    #[error("no Stripe-Signature header")]
    MissingHeader,
    #[error("Stripe-Signature header is malformed")]
    MalformedHeader,
    #[error("Stripe-Signature header has no v1 signature")]
    NoV1Signature,
    #[error("no v1 signature matches any active secret")]
    Mismatch,
    #[error("signature timestamp is {age_seconds} s from now, outside the tolerance")]
    OutsideTolerance { age_seconds: i64 },
}

impl SignatureError {
    /// A stable snake_case code for logs and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            SignatureError::MissingHeader => "missing_signature_header",
            SignatureError::MalformedHeader => "malformed_signature_header",
            SignatureError::NoV1Signature => "no_v1_signature",
            SignatureError::Mismatch => "signature_mismatch",
            SignatureError::OutsideTolerance { age_seconds } if *age_seconds < 0 => {
                "timestamp_in_future"
            }
            SignatureError::OutsideTolerance { .. } => "timestamp_too_old",
        }
    }
}

/// A parsed `Stripe-Signature` header.
#[derive(Clone, PartialEq, Eq)]
pub struct SignatureHeader {
    /// Every distinct `t` of the header, in order of appearance.
    timestamps: Vec<i64>,
    /// The distinct decoded `v1` MACs of all parts (entries that are not 64 hex digits can
    /// never match and are dropped).
    v1: Vec<[u8; 32]>,
}

impl std::fmt::Debug for SignatureHeader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignatureHeader")
            .field("timestamps", &self.timestamps)
            .field("v1", &format_args!("[{} redacted]", self.v1.len()))
            .finish()
    }
}

impl SignatureHeader {
    pub fn v1_count(&self) -> usize {
        self.v1.len()
    }

    pub fn timestamps(&self) -> &[i64] {
        &self.timestamps
    }
}

/// Parses the header. Items are `key=value` separated by commas (whitespace around items is
/// ignored), in any order; at least one `t` is required.
///
/// A header that arrives twice is joined by API Gateway into one value,
/// `t=T,v1=S,t=T,v1=S`, and Stripe's retries come through the same proxy, so refusing a
/// repeated `t` would refuse the event forever. Every `t` is kept (identical ones once) and
/// every `v1` of every part is collected; [`verify`] then checks each `v1` against each fresh
/// `t`. That is as strict as a single header: the MAC covers the timestamp, so a `v1` can only
/// match the `t` it was computed for, and a request passes only with a genuine MAC over a
/// fresh timestamp and this body. An old captured signature next to an injected fresh `t`
/// still fails (its own `t` is stale, and it is no MAC of the fresh one). Taking only the
/// last `t`, as stripe-node does, would refuse a genuine part that happens to come first;
/// pairing each `v1` with the `t` before it would depend on an item order no one promises.
pub fn parse_header(header: &str) -> Result<SignatureHeader, SignatureError> {
    if header.trim().is_empty() {
        return Err(SignatureError::MissingHeader);
    }
    if header.len() > MAX_HEADER_BYTES {
        return Err(SignatureError::MalformedHeader);
    }
    let mut timestamps = Vec::new();
    let mut v1 = Vec::new();
    let mut v1_entries = 0usize;
    for item in header.split(',') {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        let Some((key, value)) = item.split_once('=') else {
            return Err(SignatureError::MalformedHeader);
        };
        match key.trim() {
            "t" => {
                let timestamp = parse_timestamp(value.trim())?;
                if !timestamps.contains(&timestamp) {
                    timestamps.push(timestamp);
                }
                if timestamps.len() > MAX_TIMESTAMPS {
                    return Err(SignatureError::MalformedHeader);
                }
            }
            "v1" => {
                v1_entries += 1;
                let value = value.trim();
                let mut mac = [0u8; 32];
                if value.len() == V1_HEX_LEN
                    && hex::decode_to_slice(value, &mut mac).is_ok()
                    && !v1.contains(&mac)
                {
                    v1.push(mac);
                }
                if v1.len() > MAX_V1_SIGNATURES {
                    return Err(SignatureError::MalformedHeader);
                }
            }
            // v0 (Stripe's test scheme) and any future scheme are ignored.
            _ => {}
        }
    }
    if timestamps.is_empty() {
        return Err(SignatureError::MalformedHeader);
    }
    if v1_entries == 0 {
        return Err(SignatureError::NoV1Signature);
    }
    Ok(SignatureHeader { timestamps, v1 })
}

fn parse_timestamp(value: &str) -> Result<i64, SignatureError> {
    // Unix seconds: digits only (no sign, no exponent), at most 12 of them.
    if value.is_empty() || value.len() > 12 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SignatureError::MalformedHeader);
    }
    value
        .parse::<i64>()
        .map_err(|_| SignatureError::MalformedHeader)
}

/// A MAC over `"{timestamp}.{payload}"`, fed without building the concatenation. HMAC
/// takes keys of any length, so `None` cannot happen in practice; it is handled as "this
/// secret matches nothing" rather than a panic.
fn mac_for(secret: &str, timestamp: i64, payload: &[u8]) -> Option<HmacSha256> {
    let mut mac = <HmacSha256 as KeyInit>::new_from_slice(secret.as_bytes()).ok()?;
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(payload);
    Some(mac)
}

/// Verifies a request: `header` as received (None when absent), `payload` the raw body bytes,
/// `now` unix seconds. Returns the signed timestamp (the `t` a `v1` matched).
pub fn verify(
    payload: &[u8],
    header: Option<&str>,
    secrets: &WebhookSecrets,
    tolerance_seconds: i64,
    now: i64,
) -> Result<i64, SignatureError> {
    let header = parse_header(header.ok_or(SignatureError::MissingHeader)?)?;
    // No well-formed v1: malformed, not a mismatch (which may trigger a secret reload).
    if header.v1.is_empty() {
        return Err(SignatureError::MalformedHeader);
    }
    let age_of = |t: i64| now.saturating_sub(t);
    let fresh: Vec<i64> = header
        .timestamps
        .iter()
        .copied()
        .filter(|&t| is_fresh(age_of(t), tolerance_seconds))
        .collect();
    // Only a fresh, well-formed signature that matches no secret is a `Mismatch` (what a
    // rolled secret looks like, so the caller may reload); a stale one is refused as that,
    // whatever its MAC (reported by the timestamp nearest to now).
    if fresh.is_empty() {
        let age_seconds = header
            .timestamps
            .iter()
            .map(|&t| age_of(t))
            .min_by_key(|age| age.saturating_abs())
            .unwrap_or_default();
        return Err(SignatureError::OutsideTolerance { age_seconds });
    }
    let mut matched = None;
    for secret in secrets.iter() {
        for &timestamp in &fresh {
            let Some(mac) = mac_for(secret, timestamp, payload) else {
                continue;
            };
            for candidate in &header.v1 {
                // verify_slice compares in constant time; it consumes the MAC, hence the clone.
                if mac.clone().verify_slice(candidate).is_ok() {
                    matched = Some(timestamp);
                }
            }
        }
    }
    matched.ok_or(SignatureError::Mismatch)
}

/// Whether a signature `age_seconds` old (negative: from the future) is accepted.
///
/// Old: at most `tolerance_seconds`, as Stripe's SDKs do (an older one is a replay).
/// Future: stripe-node and stripe-python accept any; we accept up to the tolerance but at
/// least [`MIN_FUTURE_SKEW_SECONDS`], so a few minutes of clock skew always pass. Stripe
/// signs when it sends, on a synchronised clock, so a timestamp further ahead is not a
/// genuine delivery, and accepting it would make that request replayable until its `t` plus
/// the tolerance (an hour and more for a far-future one) instead of for the tolerance. The
/// refusal is a 400 `timestamp_in_future`, which Stripe retries like any non-2xx.
pub fn is_fresh(age_seconds: i64, tolerance_seconds: i64) -> bool {
    if age_seconds >= 0 {
        age_seconds <= tolerance_seconds
    } else {
        age_seconds.saturating_neg() <= tolerance_seconds.max(MIN_FUTURE_SKEW_SECONDS)
    }
}

/// The `v1` signature Stripe would send: hex HMAC-SHA256 of `"{timestamp}.{payload}"`.
/// For tests and local tooling; production only verifies.
pub fn compute_v1(payload: &[u8], secret: &str, timestamp: i64) -> String {
    mac_for(secret, timestamp, payload)
        .map(|mac| hex::encode(mac.finalize().into_bytes()))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_test_secret";
    const NOW: i64 = 1_700_000_000;

    fn secrets(list: &str) -> WebhookSecrets {
        WebhookSecrets::parse(list).unwrap()
    }

    fn header(payload: &[u8], secret: &str, t: i64) -> String {
        format!("t={t},v1={}", compute_v1(payload, secret, t))
    }

    #[test]
    fn known_vector_matches_hmac_sha256() {
        // python3 -c 'import hmac,hashlib;
        //   print(hmac.new(b"whsec_test_secret", b"1700000000.{}", hashlib.sha256).hexdigest())'
        assert_eq!(
            compute_v1(b"{}", SECRET, NOW),
            "ceb8863f7208fa249a6cd8f951e993c7563412aca65866f6272283debe143ab3"
        );
    }

    #[test]
    fn accepts_valid_and_rotated_headers() {
        let body = br#"{"id":"evt_1"}"#;
        let s = secrets(SECRET);
        assert_eq!(
            verify(body, Some(&header(body, SECRET, NOW)), &s, 300, NOW),
            Ok(NOW)
        );
        let rotated = format!(
            "t={NOW},v1={},v1={},v0=abc",
            compute_v1(body, "whsec_other", NOW),
            compute_v1(body, SECRET, NOW)
        );
        assert_eq!(verify(body, Some(&rotated), &s, 300, NOW), Ok(NOW));
        // Our own rotation: several active secrets, the header signed with the second.
        let two = secrets("whsec_new, whsec_test_secret");
        assert!(verify(body, Some(&header(body, SECRET, NOW)), &two, 300, NOW).is_ok());
    }

    #[test]
    fn tolerance_applies_both_ways() {
        let body = b"{}";
        let s = secrets(SECRET);
        let at = |t| verify(body, Some(&header(body, SECRET, t)), &s, 300, NOW);
        assert!(at(NOW - 300).is_ok());
        assert!(at(NOW + 300).is_ok());
        assert_eq!(
            at(NOW - 301),
            Err(SignatureError::OutsideTolerance { age_seconds: 301 })
        );
        assert_eq!(at(NOW + 301).unwrap_err().code(), "timestamp_in_future");
        assert_eq!(at(NOW - 301).unwrap_err().code(), "timestamp_too_old");
    }

    #[test]
    fn a_few_minutes_ahead_pass_whatever_the_tolerance() {
        let body = b"{}";
        let s = secrets(SECRET);
        let at = |t, tolerance| verify(body, Some(&header(body, SECRET, t)), &s, tolerance, NOW);
        // A short tolerance bounds the age, not the clock skew ahead.
        assert_eq!(at(NOW + 120, 10), Ok(NOW + 120));
        assert_eq!(at(NOW + MIN_FUTURE_SKEW_SECONDS, 10), Ok(NOW + 300));
        assert_eq!(at(NOW - 11, 10).unwrap_err().code(), "timestamp_too_old");
        assert_eq!(at(NOW + 301, 10).unwrap_err().code(), "timestamp_in_future");
        // A longer tolerance allows as much ahead as behind.
        assert_eq!(at(NOW + 600, 600), Ok(NOW + 600));
        // Far ahead (stripe-node would accept it): refused.
        assert_eq!(
            at(NOW + 4000, 300),
            Err(SignatureError::OutsideTolerance { age_seconds: -4000 })
        );
        assert_eq!(
            at(NOW + 4000, 300).unwrap_err().code(),
            "timestamp_in_future"
        );
    }

    #[test]
    fn rejects_bad_headers() {
        let body = b"{}";
        let s = secrets(SECRET);
        let good_sig = compute_v1(body, SECRET, NOW);
        let cases: Vec<(Option<String>, SignatureError)> = vec![
            (None, SignatureError::MissingHeader),
            (Some(String::new()), SignatureError::MissingHeader),
            (Some("garbage".into()), SignatureError::MalformedHeader),
            (
                Some(format!("v1={good_sig}")),
                SignatureError::MalformedHeader,
            ),
            (
                Some(format!("t=abc,v1={good_sig}")),
                SignatureError::MalformedHeader,
            ),
            (
                Some(format!("t=-5,v1={good_sig}")),
                SignatureError::MalformedHeader,
            ),
            (
                Some(format!("t=1,t=2,t=3,t=4,t={NOW},v1={good_sig}")),
                SignatureError::MalformedHeader,
            ),
            (Some(format!("t={NOW}")), SignatureError::NoV1Signature),
            (
                Some(format!("t={NOW},v0={good_sig}")),
                SignatureError::NoV1Signature,
            ),
            // No well-formed v1: malformed, not a mismatch (which may trigger a reload).
            (
                Some(format!("t={NOW},v1=zz")),
                SignatureError::MalformedHeader,
            ),
            // A stale or future signature with a wrong MAC is refused for its time.
            (
                Some(format!("t={},v1={}", NOW - 100_000, "0".repeat(64))),
                SignatureError::OutsideTolerance {
                    age_seconds: 100_000,
                },
            ),
            (
                Some(format!("t={},v1={}", NOW + 100_000, "0".repeat(64))),
                SignatureError::OutsideTolerance {
                    age_seconds: -100_000,
                },
            ),
            (
                Some(format!(
                    "t={NOW},v1={}",
                    good_sig.to_uppercase().replace('A', "B")
                )),
                SignatureError::Mismatch,
            ),
            (
                Some(format!("t={},v1={good_sig}", NOW + 1)),
                SignatureError::Mismatch,
            ),
            (
                Some(format!("t={NOW}{}", ",v1=00".repeat(9))),
                SignatureError::MalformedHeader,
            ),
            (Some("x".repeat(5000)), SignatureError::MalformedHeader),
        ];
        for (h, want) in cases {
            assert_eq!(verify(body, h.as_deref(), &s, 300, NOW), Err(want), "{h:?}");
        }
        // Whitespace around items (headers joined with ", ") is tolerated.
        let spaced = format!("t={NOW}, v1={good_sig}");
        assert!(verify(body, Some(&spaced), &s, 300, NOW).is_ok());
        // Signature over a different body.
        assert_eq!(
            verify(b"{ }", Some(&header(body, SECRET, NOW)), &s, 300, NOW),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn duplicate_headers_joined_by_a_proxy_verify() {
        let body = br#"{"id":"evt_1"}"#;
        let s = secrets(SECRET);
        let check = |h: &str| verify(body, Some(h), &s, 300, NOW);
        // API Gateway joins a header sent twice with ",": the same t and v1 repeated.
        let one = header(body, SECRET, NOW);
        assert_eq!(check(&format!("{one},{one}")), Ok(NOW));
        assert_eq!(check(&format!("{one}, {one}")), Ok(NOW));
        // During a Stripe roll each copy carries both signatures.
        let rolled = format!(
            "t={NOW},v1={},v1={}",
            compute_v1(body, "whsec_old", NOW),
            compute_v1(body, SECRET, NOW)
        );
        assert_eq!(check(&format!("{rolled},{rolled}")), Ok(NOW));
        assert_eq!(
            parse_header(&format!("{rolled},{rolled}"))
                .unwrap()
                .v1_count(),
            2
        );
        // Different t values: a v1 counts for the t it was computed over, wherever it stands.
        let earlier = header(body, SECRET, NOW - 10);
        let foreign = header(body, "whsec_other", NOW);
        assert_eq!(check(&format!("{earlier},{foreign}")), Ok(NOW - 10));
        assert_eq!(check(&format!("{foreign},{earlier}")), Ok(NOW - 10));
        // ...and never for another part's t.
        let moved = format!("t={NOW},v1={}", compute_v1(body, SECRET, NOW - 10));
        assert_eq!(
            check(&format!("{moved},{foreign}")),
            Err(SignatureError::Mismatch)
        );
        // A captured old request with a fresh t put next to it stays refused.
        let old = header(body, SECRET, NOW - 301);
        assert_eq!(
            check(&format!("{old},t={NOW}")),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            check(&format!("t={NOW},{old}")),
            Err(SignatureError::Mismatch)
        );
        // All stale: refused for the timestamp nearest to now.
        assert_eq!(
            check(&format!("{old},t={}", NOW - 1000)),
            Err(SignatureError::OutsideTolerance { age_seconds: 301 })
        );
    }

    #[test]
    fn debug_never_shows_signatures() {
        let h = parse_header(&format!("t={NOW},v1={}", "ab".repeat(32))).unwrap();
        let shown = format!("{h:?}");
        assert!(!shown.contains("abab"), "{shown}");
        assert_eq!(h.v1_count(), 1);
    }
}

//! Stripe webhook signatures (docs/stripe-and-eventbridge-facts.md), as plain functions.
//!
//! Header: `t=<unix seconds>,v1=<hex>[,v1=<hex>…][,v0=<hex>]`. The signed payload is
//! `"{t}.{raw body}"`, the MAC is HMAC-SHA256 keyed with the whole `whsec_…` string (as
//! Stripe's SDKs do). A request is authentic when any `v1` matches under any active secret;
//! `v0` and unknown schemes are ignored. The timestamp must lie within the tolerance of the
//! receiver's clock in both directions (an old one is a replay, a future one cannot be
//! genuine). Comparison is constant-time (`Mac::verify_slice`).

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use thiserror::Error;

use crate::secrets::WebhookSecrets;

type HmacSha256 = Hmac<Sha256>;

/// Stripe's default tolerance, in seconds.
pub const DEFAULT_TOLERANCE_SECONDS: i64 = 300;

/// The header name as API Gateway / Function URLs deliver it (lowercase).
pub const HEADER_NAME: &str = "stripe-signature";

/// Longer headers are rejected before any parsing (a genuine one is ~150 bytes, ~220 during
/// a secret roll).
const MAX_HEADER_BYTES: usize = 4096;
/// More `v1` entries than this are rejected, so a request cannot buy unbounded MAC compares.
const MAX_V1_SIGNATURES: usize = 8;
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
    pub timestamp: i64,
    /// The decoded `v1` MACs (entries that are not 64 hex digits can never match and are
    /// dropped).
    v1: Vec<[u8; 32]>,
}

impl std::fmt::Debug for SignatureHeader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignatureHeader")
            .field("timestamp", &self.timestamp)
            .field("v1", &format_args!("[{} redacted]", self.v1.len()))
            .finish()
    }
}

impl SignatureHeader {
    pub fn v1_count(&self) -> usize {
        self.v1.len()
    }
}

/// Parses the header. Items are `key=value` separated by commas (whitespace around items is
/// ignored, so duplicate headers joined with ", " still parse); exactly one `t` is required.
pub fn parse_header(header: &str) -> Result<SignatureHeader, SignatureError> {
    if header.trim().is_empty() {
        return Err(SignatureError::MissingHeader);
    }
    if header.len() > MAX_HEADER_BYTES {
        return Err(SignatureError::MalformedHeader);
    }
    let mut timestamp = None;
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
                if timestamp.is_some() {
                    return Err(SignatureError::MalformedHeader);
                }
                timestamp = Some(parse_timestamp(value.trim())?);
            }
            "v1" => {
                v1_entries += 1;
                if v1_entries > MAX_V1_SIGNATURES {
                    return Err(SignatureError::MalformedHeader);
                }
                let value = value.trim();
                if value.len() == V1_HEX_LEN {
                    let mut mac = [0u8; 32];
                    if hex::decode_to_slice(value, &mut mac).is_ok() {
                        v1.push(mac);
                    }
                }
            }
            // v0 (Stripe's test scheme) and any future scheme are ignored.
            _ => {}
        }
    }
    let Some(timestamp) = timestamp else {
        return Err(SignatureError::MalformedHeader);
    };
    if v1_entries == 0 {
        return Err(SignatureError::NoV1Signature);
    }
    Ok(SignatureHeader { timestamp, v1 })
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
/// `now` unix seconds. Returns the signed timestamp.
pub fn verify(
    payload: &[u8],
    header: Option<&str>,
    secrets: &WebhookSecrets,
    tolerance_seconds: i64,
    now: i64,
) -> Result<i64, SignatureError> {
    let header = parse_header(header.ok_or(SignatureError::MissingHeader)?)?;
    let mut matched = false;
    for secret in secrets.iter() {
        let Some(mac) = mac_for(secret, header.timestamp, payload) else {
            continue;
        };
        for candidate in &header.v1 {
            // verify_slice compares in constant time; it consumes the MAC, hence the clone.
            if mac.clone().verify_slice(candidate).is_ok() {
                matched = true;
            }
        }
    }
    let age_seconds = now.saturating_sub(header.timestamp);
    let fresh = age_seconds.saturating_abs() <= tolerance_seconds;
    // Only a fresh, well-formed signature that matches no secret is a `Mismatch` (what a
    // rolled secret looks like, so the caller may reload); a stale or malformed one is
    // refused as that, whatever its MAC.
    match (matched, fresh) {
        (true, true) => Ok(header.timestamp),
        (false, _) if header.v1.is_empty() => Err(SignatureError::MalformedHeader),
        (_, false) => Err(SignatureError::OutsideTolerance { age_seconds }),
        (false, true) => Err(SignatureError::Mismatch),
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
                Some(format!("t={NOW},t={NOW},v1={good_sig}")),
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
    fn debug_never_shows_signatures() {
        let h = parse_header(&format!("t={NOW},v1={}", "ab".repeat(32))).unwrap();
        let shown = format!("{h:?}");
        assert!(!shown.contains("abab"), "{shown}");
        assert_eq!(h.v1_count(), 1);
    }
}

//! Parsing that keeps only what the pipeline reads. A snapshot's `data.object` is most of its
//! bytes (a 10 KB subscription carries prices, plans, tax and settings the projections never
//! read); building a `serde_json::Value` for all of it dominated the handler's cost. This
//! parser keeps the envelope whole and, inside every `data.object`, only the fields some
//! projection or the version reads (`OBJECT_FIELDS`), skipping the rest without allocating.
//! `tests/prune.rs` checks that every fixture projects identically from the full and the
//! pruned object.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Number, Value};

/// What to keep of a value.
#[derive(Clone, Copy)]
enum Keep {
    /// Everything.
    All,
    /// An envelope (EventBridge event, SQS batch, Stripe event): everything, but `data`
    /// objects get their `object` pruned.
    Envelope,
    /// Inside `data`: `object` is pruned, the rest (`previous_attributes`) kept.
    Data,
    /// Only these fields of an object (scalars are kept as they are).
    Fields(&'static [(&'static str, Keep)]),
}

/// A reference that may be expanded into an object: only its id matters.
const ID: Keep = Keep::Fields(&[("id", Keep::All)]);
const PRICED: Keep = Keep::Fields(&[("id", Keep::All), ("product", ID)]);

/// Every field of a Stripe object that `project.rs` or `version.rs` reads, by name.
const OBJECT_FIELDS: Keep = Keep::Fields(&[
    ("amount", Keep::All),
    ("amount_due", Keep::All),
    ("amount_paid", Keep::All),
    ("amount_received", Keep::All),
    ("amount_refunded", Keep::All),
    ("amount_remaining", Keep::All),
    ("amount_requested", Keep::All),
    ("attempt_count", Keep::All),
    ("billing_reason", Keep::All),
    ("cancel_at", Keep::All),
    ("cancel_at_period_end", Keep::All),
    ("canceled_at", Keep::All),
    (
        "card",
        Keep::Fields(&[
            ("brand", Keep::All),
            ("exp_month", Keep::All),
            ("exp_year", Keep::All),
            ("last4", Keep::All),
        ]),
    ),
    ("charge", ID),
    ("completed_at", Keep::All),
    ("country", Keep::All),
    ("coupon", ID),
    ("created", Keep::All),
    ("currency", Keep::All),
    ("current_period_end", Keep::All),
    ("current_period_start", Keep::All),
    ("current_phase", Keep::Fields(&[("end_date", Keep::All)])),
    ("customer", ID),
    ("default_source", ID),
    ("deleted", Keep::All),
    ("delinquent", Keep::All),
    ("dispute", ID),
    ("disputed", Keep::All),
    ("email", Keep::All),
    ("end", Keep::All),
    ("end_behavior", Keep::All),
    ("ended_at", Keep::All),
    ("failure_code", Keep::All),
    ("hosted_invoice_url", Keep::All),
    ("id", Keep::All),
    ("invoice", ID),
    (
        "invoice_settings",
        Keep::Fields(&[("default_payment_method", ID)]),
    ),
    (
        "items",
        Keep::Fields(&[(
            "data",
            Keep::Fields(&[
                ("current_period_end", Keep::All),
                ("current_period_start", Keep::All),
                ("id", Keep::All),
                ("plan", PRICED),
                ("price", PRICED),
                ("quantity", Keep::All),
            ]),
        )]),
    ),
    (
        "last_payment_error",
        Keep::Fields(&[("code", Keep::All), ("decline_code", Keep::All)]),
    ),
    ("latest_charge", ID),
    ("latest_invoice", ID),
    ("metadata", Keep::All),
    ("name", Keep::All),
    ("next_payment_attempt", Keep::All),
    ("number", Keep::All),
    ("object", Keep::All),
    ("owner", Keep::Fields(&[("customer", ID)])),
    (
        "parent",
        Keep::Fields(&[(
            "subscription_details",
            Keep::Fields(&[("subscription", ID)]),
        )]),
    ),
    (
        "pause_collection",
        Keep::Fields(&[("behavior", Keep::All), ("resumes_at", Keep::All)]),
    ),
    ("payment", Keep::Fields(&[("payment_intent", ID)])),
    ("payment_intent", ID),
    ("period_end", Keep::All),
    ("period_start", Keep::All),
    ("phases", Keep::Fields(&[])),
    ("plan", PRICED),
    ("promotion_code", ID),
    ("reason", Keep::All),
    ("refunded", Keep::All),
    ("released_at", Keep::All),
    ("schedule", ID),
    ("source", Keep::Fields(&[("coupon", ID)])),
    ("start", Keep::All),
    ("status", Keep::All),
    ("subscription", ID),
    ("total", Keep::All),
    ("trial_end", Keep::All),
    ("trial_start", Keep::All),
    ("type", Keep::All),
    ("value", Keep::All),
    ("verification", Keep::Fields(&[("status", Keep::All)])),
]);

impl Keep {
    fn child(self, key: &[u8]) -> Option<Keep> {
        match self {
            Keep::All => Some(Keep::All),
            Keep::Envelope if key == b"data" => Some(Keep::Data),
            Keep::Envelope => Some(Keep::Envelope),
            Keep::Data if key == b"object" => Some(OBJECT_FIELDS),
            Keep::Data => Some(Keep::All),
            // A linear scan measured faster than a binary search here (most keys differ
            // from most names in the first byte).
            Keep::Fields(fields) => fields
                .iter()
                .find(|(n, _)| n.as_bytes() == key)
                .map(|(_, k)| *k),
        }
    }
}

/// Parses JSON bytes, pruning every `data.object` to the fields the pipeline reads.
pub fn parse_pruned(bytes: &[u8]) -> Result<Value, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = Keep::Envelope.deserialize(&mut de)?;
    de.end()?;
    Ok(value)
}

/// A Lambda payload parsed with [`parse_pruned`]'s rules (`LambdaEvent<PrunedPayload>`), or
/// why it could not be. Deserializing it never fails: lambda_runtime answers a
/// deserialization error itself, before the handler runs, so input serde rejects would be
/// neither acknowledged nor logged, and retried until it reached the DLQ.
#[derive(Debug, Clone, PartialEq)]
pub struct PrunedPayload(pub Result<Value, String>);

impl<'de> Deserialize<'de> for PrunedPayload {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // lambda_runtime does not check for trailing input after this returns, so stopping
        // at the first error is safe.
        Ok(PrunedPayload(
            Keep::Envelope.deserialize(d).map_err(|e| e.to_string()),
        ))
    }
}

impl<'de> DeserializeSeed<'de> for Keep {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        match self {
            Keep::All => Value::deserialize(d),
            keep => d.deserialize_any(KeepVisitor(keep)),
        }
    }
}

struct KeepVisitor(Keep);

/// A map key as raw bytes, borrowed from the input when it has no escapes. Read as bytes so
/// that the keys of skipped fields are not UTF-8 validated (serde_json skips string values
/// without validating them either); a kept key is validated when it is stored.
struct Key<'de>(Cow<'de, [u8]>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string key")
            }
            fn visit_borrowed_bytes<E: de::Error>(self, v: &'de [u8]) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_vec())))
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v.as_bytes())))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.as_bytes().to_vec())))
            }
        }
        d.deserialize_bytes(KeyVisitor)
    }
}

impl<'de> Visitor<'de> for KeepVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        self.0.deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(self.0)? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            match self.0.child(&key) {
                Some(keep) => {
                    let key = String::from_utf8(key.into_owned())
                        .map_err(|_| de::Error::custom("a key is not valid UTF-8"))?;
                    let v = map.next_value_seed(keep)?;
                    out.insert(key, v);
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Value::Object(out))
    }
}

//! A typed, borrowed model of the Stripe objects the pipeline stores: one struct per kind,
//! holding only the fields a projection (`project.rs`) or the version (`version.rs`) reads.
//! Everything else is skipped by serde without allocating (unknown fields are ignored), and
//! strings borrow from the input unless JSON escapes force a copy (`Cow`).
//!
//! The leaves are lenient on purpose: a field of an unexpected JSON type reads as absent, as
//! `Value::as_str`/`as_i64` did, so one odd field never makes a whole event unreadable. Every
//! API shape the fixtures hold is a type here: expandable references ([`Id`]: an id or the
//! expanded object), `price` or the older `plan` ([`Priced`]), the period on the subscription
//! or on its items, an invoice's `subscription` or `parent.subscription_details`, and the
//! deletion stub `{id, object, deleted}` (a [`Customer`] without `email`, `name`, `created`).

use std::borrow::Cow;
use std::cell::Cell;
use std::fmt;

use serde::de::{
    self, DeserializeSeed, Deserializer, IgnoredAny, IntoDeserializer, MapAccess, SeqAccess,
    Visitor,
};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

// ---- lenient leaves --------------------------------------------------------------------------

/// Implements the visitor methods that read every other JSON type as "absent" (consuming
/// nested arrays and objects without keeping them).
macro_rules! absent_otherwise {
    ($($skip:ident),*) => {
        $(absent_otherwise!(@one $skip);)*
    };
    (@one bool) => { fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> { Ok(Default::default()) } };
    (@one i64) => { fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> { Ok(Default::default()) } };
    (@one u64) => { fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> { Ok(Default::default()) } };
    (@one f64) => { fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> { Ok(Default::default()) } };
    (@one str) => { fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> { Ok(Default::default()) } };
    (@one unit) => {
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> { Ok(Default::default()) }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> { Ok(Default::default()) }
    };
    (@one seq) => {
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(Default::default())
        }
    };
    (@one map) => {
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok(Default::default())
        }
    };
}
pub(crate) use absent_otherwise;

/// A string field, as `Value::as_str` reads it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Text<'a>(pub Option<Cow<'a, str>>);

impl<'a> Text<'a> {
    pub fn get(&self) -> Option<&str> {
        self.0.as_deref()
    }
}

struct TextVisitor;

impl<'de> Visitor<'de> for TextVisitor {
    type Value = Text<'de>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Text<'de>, E> {
        Ok(Text(Some(Cow::Borrowed(v))))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Text<'de>, E> {
        Ok(Text(Some(Cow::Owned(v.to_owned()))))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Text<'de>, E> {
        Ok(Text(Some(Cow::Owned(v))))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Text<'de>, D::Error> {
        d.deserialize_any(self)
    }
    absent_otherwise!(bool, i64, u64, f64, unit, seq, map);
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(TextVisitor)
    }
}

/// An integer field, as `Value::as_i64` (and, for `attempt_count`, `as_u64`) reads it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Int(pub Option<i128>);

impl Int {
    pub fn get(self) -> Option<i64> {
        self.0.and_then(|n| i64::try_from(n).ok())
    }
    pub fn get_u64(self) -> Option<u64> {
        self.0.and_then(|n| u64::try_from(n).ok())
    }
}

struct IntVisitor;

impl<'de> Visitor<'de> for IntVisitor {
    type Value = Int;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Int, E> {
        Ok(Int(Some(i128::from(v))))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Int, E> {
        Ok(Int(Some(i128::from(v))))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Int, D::Error> {
        d.deserialize_any(self)
    }
    absent_otherwise!(bool, f64, str, unit, seq, map);
}

impl<'de> Deserialize<'de> for Int {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(IntVisitor)
    }
}

/// A boolean field, as `Value::as_bool` reads it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flag(pub Option<bool>);

impl Flag {
    pub fn get(self) -> Option<bool> {
        self.0
    }
}

struct FlagVisitor;

impl<'de> Visitor<'de> for FlagVisitor {
    type Value = Flag;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Flag, E> {
        Ok(Flag(Some(v)))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Flag, D::Error> {
        d.deserialize_any(self)
    }
    absent_otherwise!(i64, u64, f64, str, unit, seq, map);
}

impl<'de> Deserialize<'de> for Flag {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(FlagVisitor)
    }
}

/// An object field: `Some` only when the JSON value is an object (as `filter(is_object)`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Obj<T>(pub Option<T>);

impl<T> Default for Obj<T> {
    fn default() -> Self {
        Obj(None)
    }
}

impl<T> Obj<T> {
    pub fn get(&self) -> Option<&T> {
        self.0.as_ref()
    }
}

struct ObjVisitor<T>(std::marker::PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjVisitor<T> {
    type Value = Obj<T>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Obj<T>, A::Error> {
        T::deserialize(de::value::MapAccessDeserializer::new(map)).map(|t| Obj(Some(t)))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Obj<T>, D::Error> {
        d.deserialize_any(self)
    }
    absent_otherwise!(bool, i64, u64, f64, str, unit, seq);
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Obj<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ObjVisitor(std::marker::PhantomData))
    }
}

/// An array field: the elements when the JSON value is an array, else none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct List<T>(pub Option<Vec<T>>);

impl<T> Default for List<T> {
    fn default() -> Self {
        List(None)
    }
}

struct ListVisitor<T>(std::marker::PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for ListVisitor<T> {
    type Value = List<T>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<List<T>, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(v) = seq.next_element()? {
            out.push(v);
        }
        Ok(List(Some(out)))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<List<T>, D::Error> {
        d.deserialize_any(self)
    }
    absent_otherwise!(bool, i64, u64, f64, str, unit, map);
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for List<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ListVisitor(std::marker::PhantomData))
    }
}

/// How many elements an array has (`phases`), without keeping them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Count(pub Option<usize>);

struct CountVisitor;

impl<'de> Visitor<'de> for CountVisitor {
    type Value = Count;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Count, A::Error> {
        let mut n = 0;
        while seq.next_element::<IgnoredAny>()?.is_some() {
            n += 1;
        }
        Ok(Count(Some(n)))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Count, D::Error> {
        d.deserialize_any(self)
    }
    absent_otherwise!(bool, i64, u64, f64, str, unit, map);
}

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(CountVisitor)
    }
}

/// An expandable reference: the id string, or the expanded object's `id`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Id<'a>(pub Option<Cow<'a, str>>);

impl<'a> Id<'a> {
    pub fn get(&self) -> Option<&str> {
        self.0.as_deref()
    }
}

#[derive(Deserialize)]
struct Expanded<'a> {
    #[serde(borrow, default)]
    id: Text<'a>,
}

struct IdVisitor;

impl<'de> Visitor<'de> for IdVisitor {
    type Value = Id<'de>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Id<'de>, E> {
        Ok(Id(Some(Cow::Borrowed(v))))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Id<'de>, E> {
        Ok(Id(Some(Cow::Owned(v.to_owned()))))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Id<'de>, E> {
        Ok(Id(Some(Cow::Owned(v))))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Id<'de>, A::Error> {
        let e = Expanded::deserialize(de::value::MapAccessDeserializer::new(map))?;
        Ok(Id(e.id.0))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Id<'de>, D::Error> {
        d.deserialize_any(self)
    }
    absent_otherwise!(bool, i64, u64, f64, unit, seq);
}

impl<'de: 'a, 'a> Deserialize<'de> for Id<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(IdVisitor)
    }
}

/// A flat JSON value kept as it is (a metadata value: Stripe sends strings).
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar<'a> {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(Cow<'a, str>),
    /// Nested arrays and objects are not metadata Stripe can hold; kept as JSON text.
    Nested(Box<Value>),
}

impl<'de: 'a, 'a> Deserialize<'de> for Scalar<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Scalar<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Bool(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Int(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar<'de>, E> {
                Ok(Scalar::UInt(v))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Float(v))
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Str(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Str(Cow::Owned(v)))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Null)
            }
            fn visit_none<E: de::Error>(self) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Null)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Scalar<'de>, D::Error> {
                d.deserialize_any(self)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Scalar<'de>, A::Error> {
                let v = Value::deserialize(de::value::SeqAccessDeserializer::new(seq))?;
                Ok(Scalar::Nested(Box::new(v)))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Scalar<'de>, A::Error> {
                let v = Value::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(Scalar::Nested(Box::new(v)))
            }
        }
        d.deserialize_any(V)
    }
}

/// `metadata`: its entries in input order (an object; anything else reads as empty).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Metadata<'a>(pub Vec<(Cow<'a, str>, Scalar<'a>)>);

impl<'a> Metadata<'a> {
    pub fn get(&self, key: &str) -> Option<&Scalar<'a>> {
        // The last occurrence wins, as in a JSON object read into a map.
        self.0.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v)
    }
}

/// A map key, borrowed from the input when it has no escapes.
pub(crate) struct Key<'a>(pub(crate) Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Key<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string key")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

struct MetadataVisitor;

impl<'de> Visitor<'de> for MetadataVisitor {
    type Value = Metadata<'de>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Metadata<'de>, A::Error> {
        let mut out = Vec::new();
        while let Some(Key(k)) = map.next_key::<Key<'de>>()? {
            let v: Scalar<'de> = map.next_value()?;
            out.push((k, v));
        }
        Ok(Metadata(out))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Metadata<'de>, D::Error> {
        d.deserialize_any(self)
    }
    absent_otherwise!(bool, i64, u64, f64, str, unit, seq);
}

impl<'de: 'a, 'a> Deserialize<'de> for Metadata<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(MetadataVisitor)
    }
}

/// Marks a field that is present in the input, whatever its value (`Some` even for `null`):
/// a deletion stub is recognised by which keys it lacks.
fn present<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(d).map(Some)
}

// ---- the objects -----------------------------------------------------------------------------

/// A subscription item's `price` or legacy `plan` (both are objects with an id and a product).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Priced<'a> {
    #[serde(borrow, default)]
    pub id: Text<'a>,
    #[serde(borrow, default)]
    pub product: Id<'a>,
}

/// One entry of `items.data` (any JSON value; a non-object reads as an empty item).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SubscriptionItem<'a> {
    pub id: Text<'a>,
    /// 2018+ items carry `price`; older accounts render only `plan`.
    pub price: Obj<Priced<'a>>,
    pub plan: Obj<Priced<'a>>,
    pub quantity: Int,
    /// Since API 2025-03-31 the period is on the items.
    pub current_period_start: Int,
    pub current_period_end: Int,
}

#[derive(Deserialize)]
struct SubscriptionItemFields<'a> {
    #[serde(borrow, default)]
    id: Text<'a>,
    #[serde(borrow, default)]
    price: Obj<Priced<'a>>,
    #[serde(borrow, default)]
    plan: Obj<Priced<'a>>,
    #[serde(default)]
    quantity: Int,
    #[serde(default)]
    current_period_start: Int,
    #[serde(default)]
    current_period_end: Int,
}

impl<'de: 'a, 'a> Deserialize<'de> for SubscriptionItem<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let Obj(fields) = Obj::<SubscriptionItemFields<'a>>::deserialize(d)?;
        Ok(
            fields.map_or_else(SubscriptionItem::default, |f| SubscriptionItem {
                id: f.id,
                price: f.price,
                plan: f.plan,
                quantity: f.quantity,
                current_period_start: f.current_period_start,
                current_period_end: f.current_period_end,
            }),
        )
    }
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct ItemList<'a> {
    #[serde(borrow, default)]
    pub data: List<SubscriptionItem<'a>>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct PauseCollection<'a> {
    #[serde(borrow, default)]
    pub behavior: Text<'a>,
    #[serde(default)]
    pub resumes_at: Int,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Subscription<'a> {
    #[serde(borrow, default)]
    pub status: Text<'a>,
    #[serde(default)]
    pub deleted: Flag,
    #[serde(borrow, default)]
    pub customer: Id<'a>,
    #[serde(borrow, default)]
    pub items: Obj<ItemList<'a>>,
    /// Before API 2025-03-31 the period is on the subscription.
    #[serde(default)]
    pub current_period_start: Int,
    #[serde(default)]
    pub current_period_end: Int,
    /// The legacy single-plan subscription.
    #[serde(borrow, default)]
    pub plan: Obj<Priced<'a>>,
    #[serde(default)]
    pub trial_start: Int,
    #[serde(default)]
    pub trial_end: Int,
    #[serde(default)]
    pub cancel_at: Int,
    #[serde(default)]
    pub cancel_at_period_end: Flag,
    #[serde(default)]
    pub canceled_at: Int,
    #[serde(default)]
    pub ended_at: Int,
    #[serde(borrow, default)]
    pub pause_collection: Obj<PauseCollection<'a>>,
    #[serde(borrow, default)]
    pub latest_invoice: Id<'a>,
    #[serde(borrow, default)]
    pub schedule: Id<'a>,
    #[serde(borrow, default)]
    pub metadata: Option<Metadata<'a>>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct CurrentPhase {
    #[serde(default)]
    pub end_date: Int,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct SubscriptionSchedule<'a> {
    #[serde(borrow, default)]
    pub status: Text<'a>,
    #[serde(default)]
    pub deleted: Flag,
    #[serde(borrow, default)]
    pub customer: Id<'a>,
    #[serde(borrow, default)]
    pub subscription: Id<'a>,
    #[serde(borrow, default)]
    pub end_behavior: Text<'a>,
    #[serde(default)]
    pub phases: Count,
    #[serde(default)]
    pub current_phase: Obj<CurrentPhase>,
    #[serde(default)]
    pub canceled_at: Int,
    #[serde(default)]
    pub completed_at: Int,
    #[serde(default)]
    pub released_at: Int,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct SubscriptionDetails<'a> {
    #[serde(borrow, default)]
    pub subscription: Id<'a>,
}

/// An invoice's `parent` (API 2025-03-31 moved `subscription` under it).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct InvoiceParent<'a> {
    #[serde(borrow, default)]
    pub subscription_details: Obj<SubscriptionDetails<'a>>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Invoice<'a> {
    #[serde(borrow, default)]
    pub status: Text<'a>,
    #[serde(default)]
    pub deleted: Flag,
    #[serde(borrow, default)]
    pub customer: Id<'a>,
    #[serde(borrow, default)]
    pub currency: Text<'a>,
    #[serde(default)]
    pub created: Int,
    #[serde(borrow, default)]
    pub number: Text<'a>,
    #[serde(default)]
    pub amount_due: Int,
    #[serde(default)]
    pub amount_paid: Int,
    #[serde(default)]
    pub amount_remaining: Int,
    #[serde(default)]
    pub total: Int,
    /// Before API 2025-03-31.
    #[serde(borrow, default)]
    pub subscription: Id<'a>,
    #[serde(borrow, default)]
    pub parent: Obj<InvoiceParent<'a>>,
    #[serde(borrow, default)]
    pub billing_reason: Text<'a>,
    #[serde(default)]
    pub period_start: Int,
    #[serde(default)]
    pub period_end: Int,
    #[serde(default)]
    pub attempt_count: Int,
    #[serde(default)]
    pub next_payment_attempt: Int,
    #[serde(borrow, default)]
    pub hosted_invoice_url: Text<'a>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct PaymentError<'a> {
    #[serde(borrow, default)]
    pub code: Text<'a>,
    #[serde(borrow, default)]
    pub decline_code: Text<'a>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct PaymentIntent<'a> {
    #[serde(borrow, default)]
    pub status: Text<'a>,
    #[serde(default)]
    pub deleted: Flag,
    #[serde(borrow, default)]
    pub customer: Id<'a>,
    #[serde(borrow, default)]
    pub currency: Text<'a>,
    #[serde(default)]
    pub created: Int,
    #[serde(default)]
    pub amount: Int,
    #[serde(default)]
    pub amount_received: Int,
    #[serde(borrow, default)]
    pub last_payment_error: Obj<PaymentError<'a>>,
    #[serde(borrow, default)]
    pub latest_charge: Id<'a>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Charge<'a> {
    #[serde(borrow, default)]
    pub status: Text<'a>,
    #[serde(default)]
    pub deleted: Flag,
    #[serde(borrow, default)]
    pub customer: Id<'a>,
    #[serde(borrow, default)]
    pub currency: Text<'a>,
    #[serde(default)]
    pub created: Int,
    #[serde(default)]
    pub amount: Int,
    #[serde(default)]
    pub amount_refunded: Int,
    #[serde(default)]
    pub refunded: Flag,
    #[serde(borrow, default)]
    pub failure_code: Text<'a>,
    #[serde(default)]
    pub disputed: Flag,
    /// Older API versions expand `dispute` on the charge.
    #[serde(borrow, default)]
    pub dispute: Id<'a>,
    #[serde(borrow, default)]
    pub payment_intent: Id<'a>,
}

/// A refund or a dispute: the same fields, filed under their charge.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct ChargeChild<'a> {
    #[serde(borrow, default)]
    pub status: Text<'a>,
    #[serde(default)]
    pub deleted: Flag,
    #[serde(borrow, default)]
    pub customer: Id<'a>,
    #[serde(borrow, default)]
    pub currency: Text<'a>,
    #[serde(default)]
    pub created: Int,
    #[serde(default)]
    pub amount: Int,
    #[serde(borrow, default)]
    pub reason: Text<'a>,
    #[serde(borrow, default)]
    pub charge: Id<'a>,
    #[serde(borrow, default)]
    pub payment_intent: Id<'a>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct InvoicePaymentDetails<'a> {
    #[serde(borrow, default)]
    pub payment_intent: Id<'a>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct InvoicePayment<'a> {
    #[serde(borrow, default)]
    pub status: Text<'a>,
    #[serde(default)]
    pub deleted: Flag,
    #[serde(borrow, default)]
    pub customer: Id<'a>,
    #[serde(borrow, default)]
    pub currency: Text<'a>,
    #[serde(default)]
    pub created: Int,
    #[serde(default)]
    pub amount_paid: Int,
    #[serde(default)]
    pub amount_requested: Int,
    #[serde(borrow, default)]
    pub invoice: Id<'a>,
    #[serde(borrow, default)]
    pub payment: Obj<InvoicePaymentDetails<'a>>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct InvoiceSettings<'a> {
    #[serde(borrow, default)]
    pub default_payment_method: Id<'a>,
}

/// A customer, or its deletion stub `{id, object, deleted}` (no `email`, `name`, `created`
/// keys at all: `present` tells a missing key from a `null`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Customer<'a> {
    #[serde(borrow, default)]
    pub status: Text<'a>,
    #[serde(default)]
    pub deleted: Flag,
    #[serde(borrow, default, deserialize_with = "present")]
    pub email: Option<Text<'a>>,
    #[serde(borrow, default, deserialize_with = "present")]
    pub name: Option<Text<'a>>,
    #[serde(default, deserialize_with = "present")]
    pub created: Option<Int>,
    #[serde(default)]
    pub delinquent: Flag,
    #[serde(borrow, default)]
    pub invoice_settings: Obj<InvoiceSettings<'a>>,
    #[serde(borrow, default)]
    pub default_source: Id<'a>,
    #[serde(borrow, default)]
    pub metadata: Option<Metadata<'a>>,
}

impl Customer<'_> {
    /// The deletion stub: nothing but the id and the `deleted` flag.
    pub fn is_stub(&self) -> bool {
        self.email.is_none() && self.name.is_none() && self.created.is_none()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Card<'a> {
    #[serde(borrow, default)]
    pub brand: Text<'a>,
    #[serde(borrow, default)]
    pub last4: Text<'a>,
    #[serde(default)]
    pub exp_month: Int,
    #[serde(default)]
    pub exp_year: Int,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct PaymentMethod<'a> {
    #[serde(borrow, default)]
    pub status: Text<'a>,
    #[serde(default)]
    pub deleted: Flag,
    #[serde(borrow, default)]
    pub customer: Id<'a>,
    #[serde(borrow, default, rename = "type")]
    pub kind: Text<'a>,
    #[serde(borrow, default)]
    pub card: Obj<Card<'a>>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct DiscountSource<'a> {
    #[serde(borrow, default)]
    pub coupon: Id<'a>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Discount<'a> {
    #[serde(borrow, default)]
    pub status: Text<'a>,
    #[serde(default)]
    pub deleted: Flag,
    #[serde(borrow, default)]
    pub customer: Id<'a>,
    /// Current API: `source.coupon`; older ones: `coupon` (often expanded).
    #[serde(borrow, default)]
    pub source: Obj<DiscountSource<'a>>,
    #[serde(borrow, default)]
    pub coupon: Id<'a>,
    #[serde(borrow, default)]
    pub promotion_code: Id<'a>,
    #[serde(borrow, default)]
    pub subscription: Id<'a>,
    #[serde(default)]
    pub start: Int,
    #[serde(default)]
    pub end: Int,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct TaxIdOwner<'a> {
    #[serde(borrow, default)]
    pub customer: Id<'a>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Verification<'a> {
    #[serde(borrow, default)]
    pub status: Text<'a>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct TaxId<'a> {
    #[serde(borrow, default)]
    pub status: Text<'a>,
    #[serde(default)]
    pub deleted: Flag,
    #[serde(borrow, default)]
    pub customer: Id<'a>,
    #[serde(borrow, default)]
    pub owner: Obj<TaxIdOwner<'a>>,
    #[serde(borrow, default, rename = "type")]
    pub kind: Text<'a>,
    #[serde(borrow, default)]
    pub value: Text<'a>,
    #[serde(borrow, default)]
    pub country: Text<'a>,
    #[serde(borrow, default)]
    pub verification: Obj<Verification<'a>>,
}

/// Any other kind (a product, a price, …): only what the version reads.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct OtherObject<'a> {
    #[serde(borrow, default)]
    pub status: Text<'a>,
    #[serde(default)]
    pub deleted: Flag,
}

/// The kind-specific part of a Stripe object, chosen by its `object` field.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind<'a> {
    Subscription(Subscription<'a>),
    SubscriptionSchedule(SubscriptionSchedule<'a>),
    Invoice(Invoice<'a>),
    InvoicePayment(InvoicePayment<'a>),
    PaymentIntent(PaymentIntent<'a>),
    Charge(Charge<'a>),
    Refund(ChargeChild<'a>),
    Dispute(ChargeChild<'a>),
    Customer(Customer<'a>),
    PaymentMethod(PaymentMethod<'a>),
    Discount(Discount<'a>),
    TaxId(TaxId<'a>),
    Other(OtherObject<'a>),
}

/// What an object's `id` held, for the delivery's checks (`data.object.id` must be a string
/// when present).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum IdField<'a> {
    #[default]
    Absent,
    Null,
    Str(Cow<'a, str>),
    /// Any other JSON type.
    Invalid,
}

/// A Stripe object: its `id` and `object` (read whatever their position in the input), the
/// kind-specific fields, and how many keys it had (a `{id, object}` pair is a reference, not
/// a snapshot).
#[derive(Debug, Clone, PartialEq)]
pub struct StripeObject<'a> {
    pub id: IdField<'a>,
    /// `object`, when it is a string.
    pub object: Option<Cow<'a, str>>,
    pub kind: Kind<'a>,
    pub key_count: usize,
}

impl<'a> StripeObject<'a> {
    /// The id when it is a non-null string.
    pub fn id(&self) -> Option<&str> {
        match &self.id {
            IdField::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn object_type(&self) -> Option<&str> {
        self.object.as_deref()
    }

    /// `status`, `deleted` as every kind has them (for the version).
    pub fn status(&self) -> Option<&str> {
        match &self.kind {
            Kind::Subscription(o) => o.status.get(),
            Kind::SubscriptionSchedule(o) => o.status.get(),
            Kind::Invoice(o) => o.status.get(),
            Kind::InvoicePayment(o) => o.status.get(),
            Kind::PaymentIntent(o) => o.status.get(),
            Kind::Charge(o) => o.status.get(),
            Kind::Refund(o) | Kind::Dispute(o) => o.status.get(),
            Kind::Customer(o) => o.status.get(),
            Kind::PaymentMethod(o) => o.status.get(),
            Kind::Discount(o) => o.status.get(),
            Kind::TaxId(o) => o.status.get(),
            Kind::Other(o) => o.status.get(),
        }
    }

    pub fn deleted(&self) -> Option<bool> {
        match &self.kind {
            Kind::Subscription(o) => o.deleted.get(),
            Kind::SubscriptionSchedule(o) => o.deleted.get(),
            Kind::Invoice(o) => o.deleted.get(),
            Kind::InvoicePayment(o) => o.deleted.get(),
            Kind::PaymentIntent(o) => o.deleted.get(),
            Kind::Charge(o) => o.deleted.get(),
            Kind::Refund(o) | Kind::Dispute(o) => o.deleted.get(),
            Kind::Customer(o) => o.deleted.get(),
            Kind::PaymentMethod(o) => o.deleted.get(),
            Kind::Discount(o) => o.deleted.get(),
            Kind::TaxId(o) => o.deleted.get(),
            Kind::Other(o) => o.deleted.get(),
        }
    }

    /// The deletion stub `{id, object, deleted: true}`: all that is left of a deleted object
    /// (the API's answer to a delete, or [`Self::deleted_stub`]).
    pub fn is_deleted_stub(&self) -> bool {
        self.key_count <= 3 && self.deleted() == Some(true)
    }

    /// An invoice's `attempt_count`, as `Value::as_u64` reads it.
    pub fn attempt_count(&self) -> Option<u64> {
        match &self.kind {
            Kind::Invoice(o) => o.attempt_count.get_u64(),
            _ => None,
        }
    }

    /// The deletion stub `{id, object, deleted: true}` standing for an object gone from the
    /// API (a thin `*.deleted` whose fetch answered 404).
    pub fn deleted_stub(object_type: &'a str, id: &'a str) -> StripeObject<'a> {
        // Read from a static text, so the kind holds nothing borrowed from a local.
        let mut de = serde_json::Deserializer::from_str(r#"{"deleted":true}"#);
        let kind = kind_of(Some(object_type), &mut de).unwrap_or_else(|_| {
            Kind::Other(OtherObject {
                deleted: Flag(Some(true)),
                ..OtherObject::default()
            })
        });
        StripeObject {
            id: IdField::Str(Cow::Borrowed(id)),
            object: Some(Cow::Borrowed(object_type)),
            kind,
            key_count: 3,
        }
    }
}

/// `data.previous_attributes`: only the former customer of a detached payment method is read.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct PreviousAttributes<'a> {
    #[serde(borrow, default)]
    pub customer: Id<'a>,
}

// ---- dispatch on `object` --------------------------------------------------------------------

/// Reads `id` as the delivery checks need it.
struct IdFieldSeed;

impl<'de> DeserializeSeed<'de> for IdFieldSeed {
    type Value = IdField<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<IdField<'de>, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = IdField<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<IdField<'de>, E> {
                Ok(IdField::Str(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<IdField<'de>, E> {
                Ok(IdField::Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<IdField<'de>, E> {
                Ok(IdField::Str(Cow::Owned(v)))
            }
            fn visit_unit<E: de::Error>(self) -> Result<IdField<'de>, E> {
                Ok(IdField::Null)
            }
            fn visit_none<E: de::Error>(self) -> Result<IdField<'de>, E> {
                Ok(IdField::Null)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<IdField<'de>, D::Error> {
                d.deserialize_any(self)
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<IdField<'de>, E> {
                Ok(IdField::Invalid)
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<IdField<'de>, E> {
                Ok(IdField::Invalid)
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<IdField<'de>, E> {
                Ok(IdField::Invalid)
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<IdField<'de>, E> {
                Ok(IdField::Invalid)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<IdField<'de>, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(IdField::Invalid)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<IdField<'de>, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(IdField::Invalid)
            }
        }
        d.deserialize_any(V)
    }
}

/// The map of an object after its `object` key, preceded by any keys that came before it
/// (Stripe always writes `id` and `object` first, so normally there are none). `id` and
/// `object` themselves are taken out for [`StripeObject`]; every key is counted.
struct Rest<'a, 'de, A> {
    before: std::vec::IntoIter<(Cow<'de, str>, &'de RawValue)>,
    pending: Option<&'de RawValue>,
    map: A,
    id: &'a mut IdField<'de>,
    object: &'a mut Option<Cow<'de, str>>,
    keys: &'a mut usize,
    /// Whether the `object` key was read (before `Rest`, when there was no hint).
    seen_object: bool,
    /// The kind the map is being read as before its `object` key was seen.
    hint: Option<KindHint<'a>>,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Rest<'_, 'de, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        if let Some((k, v)) = self.before.next() {
            self.pending = Some(v);
            return match k {
                Cow::Borrowed(k) => seed
                    .deserialize(de::value::BorrowedStrDeserializer::new(k))
                    .map(Some),
                Cow::Owned(k) => seed.deserialize(k.into_deserializer()).map(Some),
            };
        }
        loop {
            let Some(Key(key)) = self.map.next_key::<Key<'de>>()? else {
                return Ok(None);
            };
            *self.keys += 1;
            match &*key {
                // A second `id` or `object` is refused (as serde refuses a typed field twice):
                // the kind would come from the first, the identity check see the last.
                "id" if !matches!(self.id, IdField::Absent) => {
                    return Err(de::Error::duplicate_field("id"))
                }
                "object" if self.seen_object => return Err(de::Error::duplicate_field("object")),
                "id" => *self.id = self.map.next_value_seed(IdFieldSeed)?,
                "object" => {
                    self.seen_object = true;
                    *self.object = self.map.next_value::<Text<'de>>()?.0;
                    if let Some(hint) = self.hint {
                        if self.object.as_deref() != Some(hint.kind) {
                            hint.missed.set(true);
                            return Err(de::Error::custom(
                                "the object is not of the kind its event type names",
                            ));
                        }
                    }
                }
                _ => {
                    return match key {
                        Cow::Borrowed(k) => seed
                            .deserialize(de::value::BorrowedStrDeserializer::new(k))
                            .map(Some),
                        Cow::Owned(k) => seed.deserialize(k.into_deserializer()).map(Some),
                    }
                }
            }
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, A::Error> {
        match self.pending.take() {
            // Read now that the kind is known, borrowing from the input like the rest.
            Some(v) => seed
                .deserialize(&mut serde_json::Deserializer::from_str(v.get()))
                .map_err(de::Error::custom),
            None => self.map.next_value_seed(seed),
        }
    }
}

fn kind_of<'de, D: Deserializer<'de>>(object: Option<&str>, d: D) -> Result<Kind<'de>, D::Error> {
    Ok(match object.unwrap_or("") {
        "subscription" => Kind::Subscription(Subscription::deserialize(d)?),
        "subscription_schedule" => {
            Kind::SubscriptionSchedule(SubscriptionSchedule::deserialize(d)?)
        }
        "invoice" => Kind::Invoice(Invoice::deserialize(d)?),
        "invoice_payment" => Kind::InvoicePayment(InvoicePayment::deserialize(d)?),
        "payment_intent" => Kind::PaymentIntent(PaymentIntent::deserialize(d)?),
        "charge" => Kind::Charge(Charge::deserialize(d)?),
        "refund" => Kind::Refund(ChargeChild::deserialize(d)?),
        "dispute" => Kind::Dispute(ChargeChild::deserialize(d)?),
        "customer" => Kind::Customer(Customer::deserialize(d)?),
        "payment_method" => Kind::PaymentMethod(PaymentMethod::deserialize(d)?),
        "discount" => Kind::Discount(Discount::deserialize(d)?),
        "tax_id" => Kind::TaxId(TaxId::deserialize(d)?),
        _ => Kind::Other(OtherObject::deserialize(d)?),
    })
}

/// The object kind the event type names, known before `data.object` is read (EventBridge
/// writes `detail-type` before `detail`): the object is then read straight as that kind,
/// whatever its key order, with no key buffered. When its `object` says otherwise, `missed`
/// is set and the read fails; the caller reads the input again without a hint.
#[derive(Clone, Copy)]
pub(crate) struct KindHint<'h> {
    pub(crate) kind: &'static str,
    pub(crate) missed: &'h Cell<bool>,
}

/// Reads a [`StripeObject`], as the given kind when there is a hint.
pub(crate) struct ObjectSeed<'h>(pub(crate) Option<KindHint<'h>>);

impl<'de> DeserializeSeed<'de> for ObjectSeed<'_> {
    type Value = StripeObject<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<StripeObject<'de>, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ObjectSeed<'_> {
    type Value = StripeObject<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a Stripe object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<StripeObject<'de>, A::Error> {
        let mut id = IdField::Absent;
        let mut object: Option<Cow<'de, str>> = None;
        let mut keys = 0;
        let mut before = Vec::new();
        let mut seen_object = false;
        // The kind decides which fields the map has: the hinted one, else read up to `object`.
        let kind_name: Option<Cow<'de, str>> = match self.0 {
            Some(hint) => Some(Cow::Borrowed(hint.kind)),
            None => {
                while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
                    keys += 1;
                    match &*key {
                        "id" if !matches!(id, IdField::Absent) => {
                            return Err(de::Error::duplicate_field("id"))
                        }
                        "id" => id = map.next_value_seed(IdFieldSeed)?,
                        "object" => {
                            object = map.next_value::<Text<'de>>()?.0;
                            seen_object = true;
                            break;
                        }
                        // Not Stripe's own order (e.g. keys sorted) and no hint: the raw text
                        // is kept (one scan, no tree) and read when the kind is known.
                        _ => before.push((key, map.next_value::<&'de RawValue>()?)),
                    }
                }
                // Without any `object` key the buffered fields are all there is (an `Other`).
                object.clone().filter(|_| seen_object)
            }
        };
        let rest = Rest {
            before: before.into_iter(),
            pending: None,
            map,
            id: &mut id,
            object: &mut object,
            keys: &mut keys,
            seen_object,
            hint: self.0,
        };
        let kind = kind_of(
            kind_name.as_deref(),
            de::value::MapAccessDeserializer::new(rest),
        )?;
        Ok(StripeObject {
            id,
            object,
            kind,
            key_count: keys,
        })
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for StripeObject<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        ObjectSeed(None).deserialize(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_borrow_unless_escaped() {
        let json =
            br#"{"id":"sub_1","object":"subscription","status":"act\u0069ve","customer":"cus_1"}"#;
        let o: StripeObject = serde_json::from_slice(json).expect("parses");
        let Kind::Subscription(s) = &o.kind else {
            panic!("a subscription")
        };
        assert!(matches!(o.id, IdField::Str(Cow::Borrowed("sub_1"))));
        assert!(matches!(s.customer.0, Some(Cow::Borrowed("cus_1"))));
        assert!(matches!(s.status.0, Some(Cow::Owned(ref v)) if v == "active"));
        assert_eq!(o.key_count, 4);
    }

    #[test]
    fn the_kind_is_found_wherever_object_is() {
        let json = br#"{"status":"paid","customer":{"id":"cus_9","object":"customer"},"id":"in_1","object":"invoice","attempt_count":2}"#;
        let o: StripeObject = serde_json::from_slice(json).expect("parses");
        let Kind::Invoice(i) = &o.kind else {
            panic!("an invoice")
        };
        assert_eq!(i.status.get(), Some("paid"));
        assert_eq!(i.customer.get(), Some("cus_9"));
        assert_eq!(o.id(), Some("in_1"));
        assert_eq!(o.attempt_count(), Some(2));
        assert_eq!(o.key_count, 5);
    }

    #[test]
    fn odd_field_types_read_as_absent() {
        let json = br#"{"id":"sub_1","object":"subscription","status":7,"customer":["x"],"trial_end":1.5,"items":{"data":[3,{"id":"si_1","price":"price_1","plan":{"id":"plan_1","product":{"id":"prod_1"}}}]}}"#;
        let o: StripeObject = serde_json::from_slice(json).expect("parses");
        let Kind::Subscription(s) = &o.kind else {
            panic!("a subscription")
        };
        assert_eq!(s.status.get(), None);
        assert_eq!(s.customer.get(), None);
        assert_eq!(s.trial_end.get(), None);
        let items = s
            .items
            .get()
            .and_then(|i| i.data.0.as_ref())
            .expect("items");
        assert_eq!(items[0], SubscriptionItem::default());
        assert_eq!(
            items[1].price.get(),
            None,
            "an unexpanded price is not an object"
        );
        assert_eq!(
            items[1].plan.get().and_then(|p| p.product.get()),
            Some("prod_1")
        );
    }

    #[test]
    fn a_deleted_customer_stub_is_recognised_by_its_missing_keys() {
        let stub: StripeObject =
            serde_json::from_str(r#"{"id":"cus_1","object":"customer","deleted":true}"#)
                .expect("parses");
        let Kind::Customer(c) = &stub.kind else {
            panic!("a customer")
        };
        assert!(c.is_stub());
        let nulls: StripeObject = serde_json::from_str(
            r#"{"id":"cus_1","object":"customer","email":null,"name":null,"created":null}"#,
        )
        .expect("parses");
        let Kind::Customer(c) = &nulls.kind else {
            panic!("a customer")
        };
        assert!(!c.is_stub(), "null is not absent");
    }
}

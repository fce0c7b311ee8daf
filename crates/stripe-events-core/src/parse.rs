//! The one entry point from "whatever a Lambda was invoked with" to Stripe deliveries.
//!
//! The invocation's bytes are read once, straight into plain data: the envelope fields the
//! pipeline uses and, for a snapshot, the typed and borrowed [`StripeObject`] (`model.rs`).
//! No `serde_json::Value` tree is built; everything else in the input is skipped by serde
//! without allocating. An SQS record's body is JSON inside a JSON string, so it is unescaped
//! into its own buffer and read when the record is processed ([`Record::delivery`]).
//!
//! Why not `aws_lambda_events`' `EventBridgeEvent` / `SqsEvent` for the envelopes: they own
//! every string and deserialize `detail` into an owned type (by default a `serde_json::Value`),
//! so the Stripe object could not borrow from the input. On the 10 KB snapshot fixture a full
//! `Value` costs 42–58 µs against 19 µs for this typed read (criterion, `make bench`,
//! 2026-11-30). The SQS answer does use its `SqsBatchResponse`, the webhook its
//! `ApiGatewayV2httpRequest`/`ApiGatewayV2httpResponse`.

// A `RecordError` carries every id read before the error, for its log line and SQS's
// `batchItemFailures`; it is built only on the error path, so its size costs nothing there.
#![allow(clippy::result_large_err)]

use std::borrow::Cow;
use std::cell::Cell;
use std::fmt;
use std::mem::take;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use crate::delivery::{Delivery, DeliveryPath, ObjectRef, PayloadStyle, SourcePath};
use crate::error::ParseError;
use crate::family::{is_objectless, Family};
use crate::identity::object_kind_of;
use crate::model::{
    absent_otherwise, IdField, Key, KindHint, Obj, ObjectSeed, PreviousAttributes, StripeObject,
    Text,
};
use crate::timestamp::Timestamp;

const PARTNER_SOURCE_PREFIX: &str = "aws.partner/stripe.com/";
const WEBHOOK_SOURCE: &str = "stripe.webhook";

/// The outer shape the Lambda was invoked with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvocationShape {
    EventBridge,
    SqsBatch,
    BareStripeEvent,
}

/// A record that could not be read, with what identifies it for the log and for SQS's
/// `batchItemFailures`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordError {
    pub sqs_message_id: Option<String>,
    /// EventBridge's id of the envelope, when it could be read despite the error.
    pub envelope_id: Option<String>,
    /// The Stripe event id when it could be read despite the error.
    pub event_id: Option<String>,
    /// The event's type as given, when it could be read despite the error.
    pub event_type: Option<String>,
    /// The delivery path ([`crate::DeliveryPath::name`]) when the source was read;
    /// `unknown` for an EventBridge source that is neither Stripe's nor the webhook's.
    pub path: Option<&'static str>,
    pub error: ParseError,
}

impl RecordError {
    fn new(error: ParseError) -> Self {
        RecordError {
            sqs_message_id: None,
            envelope_id: None,
            event_id: None,
            event_type: None,
            path: None,
            error,
        }
    }

    fn with_event_id(error: ParseError, event_id: Option<String>) -> Self {
        RecordError {
            event_id,
            ..RecordError::new(error)
        }
    }
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.error.fmt(f)
    }
}

impl std::error::Error for RecordError {}

#[derive(Debug, Clone, PartialEq)]
pub struct Invocation<'a> {
    pub shape: InvocationShape,
    /// One entry per delivery: one for EventBridge and bare events, one per SQS record.
    pub records: Vec<Record<'a>>,
}

impl<'a> Invocation<'a> {
    /// An SQS batch whose records cannot be read: one unreadable record without a message id
    /// (its answer fails the whole batch, so no message is deleted unseen).
    fn unreadable_batch(e: RecordError) -> Self {
        Invocation {
            shape: InvocationShape::SqsBatch,
            records: vec![Record::Read(Err(e))],
        }
    }

    /// The delivery of an EventBridge or bare event (the one record, read with the
    /// invocation); `None` for an SQS batch, even one of a single (unreadable) record.
    pub fn into_single(mut self) -> Option<Result<Delivery<'a>, RecordError>> {
        if self.shape == InvocationShape::SqsBatch {
            return None;
        }
        match (self.records.len(), self.records.pop()) {
            (1, Some(Record::Read(d))) => Some(d),
            _ => None,
        }
    }
}

/// One record of an invocation.
#[derive(Debug, Clone, PartialEq)]
// One per event and short-lived: boxing the large variant would cost an allocation per event.
#[allow(clippy::large_enum_variant)]
pub enum Record<'a> {
    /// An EventBridge or bare event, read with the invocation (or why it could not be).
    Read(Result<Delivery<'a>, RecordError>),
    /// An SQS record whose body, a JSON text of its own, is read by [`Record::delivery`].
    Sqs {
        message_id: String,
        body: Cow<'a, str>,
    },
}

impl<'a> Record<'a> {
    /// The delivery this record holds, borrowing from the invocation (or from the SQS body).
    pub fn delivery(&self) -> Result<Cow<'_, Delivery<'_>>, RecordError> {
        match self {
            Record::Read(Ok(d)) => Ok(Cow::Borrowed(d)),
            Record::Read(Err(e)) => Err(e.clone()),
            Record::Sqs { message_id, body } => parse_sqs_body(message_id, body).map(Cow::Owned),
        }
    }

    /// The SQS message id, when the record came from a batch.
    pub fn sqs_message_id(&self) -> Option<&str> {
        match self {
            Record::Read(Ok(d)) => d.path.sqs_message_id.as_deref(),
            Record::Read(Err(e)) => e.sqs_message_id.as_deref(),
            Record::Sqs { message_id, .. } => Some(message_id),
        }
    }
}

/// Parses an invocation's bytes (a Lambda payload, a file, an HTTP body). A top-level error
/// means no delivery could be read at all; in an SQS batch each bad record is its own `Err`
/// and the good ones still parse, and a batch that cannot be read (its `Records` key seen)
/// is still an SQS batch, of one unreadable record.
pub fn parse_bytes(bytes: &[u8]) -> Result<Invocation<'_>, RecordError> {
    // Validated once here, so the reader need not validate each string it reads (serde_json's
    // `from_str` reader trusts its input; its `from_slice` reader checks every string again).
    match std::str::from_utf8(bytes) {
        Ok(text) => parse_text(text),
        Err(e) => invalid_utf8(bytes, e),
    }
}

/// An input that is not UTF-8, named by the ids read from it before the first bad byte.
fn invalid_utf8<'a>(bytes: &[u8], e: std::str::Utf8Error) -> Result<Invocation<'a>, RecordError> {
    let readable = String::from_utf8_lossy(&bytes[..e.valid_up_to()]);
    let (_, salvage) = read_top_once(&readable, None);
    salvage.unreadable(ParseError::NotJson {
        detail: format!("invalid UTF-8 at byte {}", e.valid_up_to()),
    })
}

/// [`parse_bytes`] of a text already checked as UTF-8.
fn parse_text(text: &str) -> Result<Invocation<'_>, RecordError> {
    let mut top = match read_top(text) {
        Ok(top) => top,
        Err((e, salvage)) => {
            return salvage.unreadable(ParseError::NotJson {
                detail: e.to_string(),
            })
        }
    };
    if let Some(records) = top.records.take() {
        let RecordsField::Records(records) = records else {
            return Ok(Invocation::unreadable_batch(RecordError::new(
                ParseError::WrongType {
                    field: "Records",
                    expected: "an array",
                },
            )));
        };
        return Ok(Invocation {
            shape: InvocationShape::SqsBatch,
            records: records.into_iter().map(sqs_record).collect(),
        });
    }
    let (shape, delivery) = event_object(&mut top)?;
    Ok(Invocation {
        shape,
        records: vec![Record::Read(Ok(delivery))],
    })
}

/// Reads the bytes with [`TopSeed`]; on a serde error, what was read before it. The object is
/// read as the kind `detail-type` names (one pass in any key order); only when it turns out
/// to be another kind are the bytes read again without that hint.
fn read_top(text: &str) -> Result<Box<TopLevel<'_>>, (serde_json::Error, Salvage)> {
    let missed = Cell::new(false);
    let read = match read_top_once(text, Some(&missed)) {
        (Err(_), _) if missed.get() => read_top_once(text, None),
        read => read,
    };
    match read {
        (Ok(top), _) => Ok(top),
        (Err(e), salvage) => Err((e, salvage)),
    }
}

/// One read of `text`, with kind hints or without; what was salvaged either way.
fn read_top_once<'b>(
    text: &'b str,
    hints: Option<&Cell<bool>>,
) -> (Result<Box<TopLevel<'b>>, serde_json::Error>, Salvage) {
    let mut salvage = Salvage::default();
    let mut de = serde_json::Deserializer::from_str(text);
    let read = TopSeed {
        salvage: &mut salvage,
        hints,
    }
    .deserialize(&mut de)
    .and_then(|top| de.end().map(|()| top));
    (read, salvage)
}

fn sqs_record(record: RawSqsRecord<'_>) -> Record<'_> {
    let RawSqsRecord::Record { message_id, body } = record else {
        return Record::Read(Err(RecordError::new(ParseError::WrongType {
            field: "Records[]",
            expected: "an object",
        })));
    };
    let message_id = match message_id {
        Leaf::Str(id) => Some(id.into_owned()),
        _ => None,
    };
    let fail = |error: ParseError| {
        Record::Read(Err(RecordError {
            sqs_message_id: message_id.clone(),
            ..RecordError::new(error)
        }))
    };
    let body = match body {
        Leaf::Str(body) => body,
        Leaf::Absent => return fail(ParseError::MissingField { field: "body" }),
        _ => {
            return fail(ParseError::WrongType {
                field: "body",
                expected: "a string",
            })
        }
    };
    match message_id {
        Some(message_id) => Record::Sqs { message_id, body },
        None => fail(ParseError::MissingField { field: "messageId" }),
    }
}

/// Reads an SQS record's body: an EventBridge event or a bare Stripe event.
fn parse_sqs_body<'b>(message_id: &str, body: &'b str) -> Result<Delivery<'b>, RecordError> {
    let with_id = |mut e: RecordError| {
        e.sqs_message_id = Some(message_id.to_owned());
        e
    };
    let mut top = read_top(body).map_err(|(e, salvage)| {
        with_id(salvage.error(ParseError::SqsBodyNotJson {
            detail: e.to_string(),
        }))
    })?;
    // A body is one event; a `Records` key inside it means nothing.
    top.records = None;
    let (_, mut delivery) = event_object(&mut top).map_err(with_id)?;
    delivery.path.sqs_message_id = Some(message_id.to_owned());
    Ok(delivery)
}

/// An EventBridge event or a bare Stripe event.
/// Takes what it keeps out of `top`.
fn event_object<'a>(
    top: &mut TopLevel<'a>,
) -> Result<(InvocationShape, Delivery<'a>), RecordError> {
    if let Some(found) = top.not_an_object {
        return Err(RecordError::new(ParseError::UnrecognisedShape { found }));
    }
    if top.detail.is_some() && !top.source.is_absent() {
        return eventbridge(top).map(|d| (InvocationShape::EventBridge, d));
    }
    if !top.event.looks_like_stripe_event() {
        // Whatever ids there are go into the log line: the top-level `id` (an envelope's, when
        // this was meant as one) and the `id` of an event-like `detail`.
        let event_id = match &top.detail {
            Some(DetailField::Event(detail)) => detail.id.as_str().map(str::to_owned),
            _ => None,
        };
        return Err(RecordError {
            envelope_id: top.event.id.as_str().map(str::to_owned),
            event_id,
            ..RecordError::new(ParseError::UnrecognisedShape {
                found: "an object without EventBridge `source`/`detail` or Stripe `id`/`type`",
            })
        });
    }
    let path = DeliveryPath {
        source: SourcePath::Bare,
        sqs_message_id: None,
    };
    stripe_event(&mut top.event, path, None, None).map(|d| (InvocationShape::BareStripeEvent, d))
}

fn eventbridge<'a>(top: &mut TopLevel<'a>) -> Result<Delivery<'a>, RecordError> {
    // At the top of an EventBridge event, `id` is the envelope's.
    let envelope_id = take(&mut top.event.id).into_string();
    let replay_name = take(&mut top.replay_name).into_string();
    let source = take(&mut top.source);
    let Some(DetailField::Event(mut detail)) = top.detail.take() else {
        return Err(RecordError {
            envelope_id,
            ..RecordError::new(ParseError::WrongType {
                field: "detail",
                expected: "an object",
            })
        });
    };
    let Leaf::Str(source) = source else {
        return Err(RecordError {
            envelope_id,
            event_id: detail.id.as_str().map(str::to_owned),
            event_type: detail.type_.as_str().map(str::to_owned),
            path: Some(UNKNOWN_PATH),
            ..RecordError::new(ParseError::WrongType {
                field: "source",
                expected: "a string",
            })
        });
    };
    let source_path = if source == WEBHOOK_SOURCE {
        SourcePath::Webhook
    } else if let Some(destination_id) = source
        .strip_prefix(PARTNER_SOURCE_PREFIX)
        .filter(|d| !d.is_empty())
    {
        SourcePath::Partner {
            destination_id: destination_id.to_owned(),
        }
    } else if detail.source.as_str() == Some(WEBHOOK_SOURCE) {
        // An older forwarder marked webhook events inside the detail.
        SourcePath::Webhook
    } else {
        return Err(RecordError {
            envelope_id,
            event_id: detail.id.as_str().map(str::to_owned),
            event_type: detail.type_.as_str().map(str::to_owned),
            path: Some(UNKNOWN_PATH),
            ..RecordError::new(ParseError::UnknownSource {
                source_name: source.into_owned(),
            })
        });
    };
    let path = DeliveryPath {
        source: source_path,
        sqs_message_id: None,
    };
    stripe_event(&mut detail, path, envelope_id, replay_name)
}

/// The `path` of a record whose EventBridge source is neither Stripe's nor the webhook's.
pub const UNKNOWN_PATH: &str = "unknown";

/// Takes what it keeps out of `ev`: the event's fields are moved, never the whole struct
/// (about 500 bytes, copied at every level it passed through). An error names the event's
/// type, as given, and its path.
fn stripe_event<'a>(
    ev: &mut EventFields<'a>,
    path: DeliveryPath,
    envelope_id: Option<String>,
    replay_name: Option<String>,
) -> Result<Delivery<'a>, RecordError> {
    let path_name = path.name();
    read_stripe_event(ev, path, envelope_id, replay_name).map_err(|e| RecordError {
        event_type: ev.type_.as_str().map(str::to_owned),
        path: Some(path_name),
        ..e
    })
}

fn read_stripe_event<'a>(
    ev: &mut EventFields<'a>,
    path: DeliveryPath,
    envelope_id: Option<String>,
    replay_name: Option<String>,
) -> Result<Delivery<'a>, RecordError> {
    let fail_with = |error: ParseError, event_id: Option<&str>| RecordError {
        envelope_id: envelope_id.clone(),
        ..RecordError::with_event_id(error, event_id.map(str::to_owned))
    };
    // An empty id is no id, for the error as for the event.
    let id = ev
        .id
        .required_string("id")
        .map_err(|e| fail_with(e, None))?;
    let fail = |error: ParseError| fail_with(error, Some(&id));
    let event_type = ev.type_.required_string("type").map_err(fail)?;
    let livemode = livemode(&ev.livemode).map_err(fail)?;
    let created = created(&ev.created).map_err(fail)?;
    let family = Family::of_event_type(&event_type);
    let subject = if ev.object.as_str() == Some("v2.core.event") {
        thin_v2_subject(ev.related_object.take(), family, &event_type)
    } else {
        v1_subject(ev.data.take())
    }
    .map_err(fail)?;
    let (snapshot_event, stripe_context, stripe_account) = if subject.style == PayloadStyle::ThinV2
    {
        (
            ev.snapshot_event
                .optional_string("snapshot_event")
                .map_err(fail)?,
            ev.context.optional_string("context").map_err(fail)?,
            None,
        )
    } else {
        (
            None,
            None,
            ev.account.optional_string("account").map_err(fail)?,
        )
    };
    Ok(Delivery {
        family,
        path,
        style: subject.style,
        event_id: id,
        event_type,
        created,
        livemode,
        api_version: take(&mut ev.api_version).into_string(),
        object: subject.object,
        snapshot_event,
        stripe_context,
        stripe_account,
        envelope_id,
        replay_name,
        data_object: subject.data_object,
        previous_attributes: subject.previous_attributes,
    })
}

fn livemode(leaf: &Leaf<'_>) -> Result<bool, ParseError> {
    match leaf {
        Leaf::Absent | Leaf::Null => Ok(false),
        Leaf::Bool(b) => Ok(*b),
        _ => Err(ParseError::WrongType {
            field: "livemode",
            expected: "a boolean",
        }),
    }
}

/// `created`: unix seconds (v1) or ISO-8601 (v2).
fn created(leaf: &Leaf<'_>) -> Result<Timestamp, ParseError> {
    let parsed = match leaf {
        Leaf::Absent | Leaf::Null => return Err(ParseError::MissingField { field: "created" }),
        Leaf::Int(n) => Some(Timestamp::from_unix_seconds(*n)),
        Leaf::Str(s) => Timestamp::parse_iso8601(s),
        _ => None,
    };
    parsed.ok_or_else(|| ParseError::InvalidTimestamp {
        value: leaf.json_text(),
    })
}

/// What an event is about, by payload style.
struct Subject<'a> {
    style: PayloadStyle,
    object: Option<ObjectRef>,
    data_object: Option<Box<StripeObject<'a>>>,
    previous_attributes: Option<PreviousAttributes<'a>>,
}

/// A v2 notification names its object in `related_object`.
fn thin_v2_subject<'a>(
    related: Option<Obj<RelatedObject<'_>>>,
    family: Family,
    event_type: &str,
) -> Result<Subject<'a>, ParseError> {
    let reference = match related.and_then(|r| r.0) {
        Some(r) => {
            // A url that is there but not a string cannot be checked against the reference
            // (an empty one is kept, and fails that check).
            let url = match r.url {
                Leaf::Absent | Leaf::Null => None,
                Leaf::Str(url) => Some(url.into_owned()),
                _ => {
                    return Err(ParseError::WrongType {
                        field: "related_object.url",
                        expected: "a string",
                    })
                }
            };
            match (r.type_.get(), r.id.get()) {
                (Some(object_type), Some(id)) => Some(ObjectRef {
                    object_type: object_type.to_owned(),
                    id: id.to_owned(),
                    url,
                }),
                _ => None,
            }
        }
        None => None,
    };
    // v2 events such as `v2.core.event_destination.ping` carry no object: valid, signed
    // Stripe events that no family stores; nor does an upcoming invoice have one to name. A
    // family's other events without one are unusable.
    if reference.is_none() && family != Family::None && !is_objectless(event_type) {
        return Err(ParseError::ThinWithoutReference);
    }
    Ok(Subject {
        style: PayloadStyle::ThinV2,
        object: reference,
        data_object: None,
        previous_attributes: None,
    })
}

/// A v1 event carries `data.object`: the whole object (snapshot) or only `{id, object}` (the
/// legacy thin reference).
fn v1_subject(data: Option<DataField<'_>>) -> Result<Subject<'_>, ParseError> {
    let (data_object, previous) = match data {
        Some(DataField::Object { object, previous }) => (object, previous.0),
        _ => (ObjectField::Absent, None),
    };
    let data_object = match data_object {
        ObjectField::Object(o) => o,
        ObjectField::Other => {
            return Err(ParseError::WrongType {
                field: "data.object",
                expected: "an object",
            })
        }
        ObjectField::Absent => {
            return Err(ParseError::MissingField {
                field: "data.object",
            })
        }
    };
    // Some objects have no id (an upcoming invoice); the projection decides what to do.
    let id = match &data_object.id {
        IdField::Absent | IdField::Null => String::new(),
        IdField::Str(s) => s.clone().into_owned(),
        IdField::Invalid => {
            return Err(ParseError::WrongType {
                field: "data.object.id",
                expected: "a string",
            })
        }
    };
    let Some(object_type) = data_object.object_type().map(str::to_owned) else {
        return Err(ParseError::MissingField {
            field: "data.object.object",
        });
    };
    let object = Some(ObjectRef {
        object_type,
        id,
        url: None,
    });
    let only_reference = data_object.key_count == 2;
    Ok(Subject {
        style: if only_reference {
            PayloadStyle::ThinReference
        } else {
            PayloadStyle::Snapshot
        },
        object,
        data_object: (!only_reference).then_some(data_object),
        previous_attributes: previous,
    })
}

// ---- what is read -----------------------------------------------------------------------------

/// A scalar envelope field as found, so that errors can say what was wrong with it.
#[derive(Debug, Clone, Default, PartialEq)]
enum Leaf<'a> {
    #[default]
    Absent,
    Null,
    Bool(bool),
    Int(i64),
    /// Any other number, as JSON text.
    Number(String),
    Str(Cow<'a, str>),
    /// An array or an object (skipped): its JSON kind.
    Compound(&'static str),
}

impl<'a> Leaf<'a> {
    fn is_absent(&self) -> bool {
        matches!(self, Leaf::Absent)
    }

    fn as_str(&self) -> Option<&str> {
        match self {
            Leaf::Str(s) => Some(s),
            _ => None,
        }
    }

    fn into_string(self) -> Option<String> {
        match self {
            Leaf::Str(s) => Some(s.into_owned()),
            _ => None,
        }
    }

    /// An optional string: absent, `null` and `""` are none; another JSON type is an error
    /// (an empty `snapshot_event` would give unrelated events one dedupe key).
    fn optional_string(&self, field: &'static str) -> Result<Option<String>, ParseError> {
        match self {
            Leaf::Str(s) if !s.is_empty() => Ok(Some(s.clone().into_owned())),
            Leaf::Absent | Leaf::Null | Leaf::Str(_) => Ok(None),
            _ => Err(ParseError::WrongType {
                field,
                expected: "a string",
            }),
        }
    }

    fn required_string(&self, field: &'static str) -> Result<String, ParseError> {
        match self {
            Leaf::Str(s) if !s.is_empty() => Ok(s.clone().into_owned()),
            Leaf::Absent | Leaf::Null | Leaf::Str(_) => Err(ParseError::MissingField { field }),
            _ => Err(ParseError::WrongType {
                field,
                expected: "a string",
            }),
        }
    }

    /// The value as JSON text, for error messages.
    fn json_text(&self) -> String {
        match self {
            Leaf::Absent | Leaf::Null => "null".to_owned(),
            Leaf::Bool(b) => b.to_string(),
            Leaf::Int(n) => n.to_string(),
            Leaf::Number(n) => n.clone(),
            Leaf::Str(s) => serde_json::to_string(s).unwrap_or_default(),
            Leaf::Compound(kind) => (*kind).to_owned(),
        }
    }
}

struct LeafVisitor;

impl<'de> Visitor<'de> for LeafVisitor {
    type Value = Leaf<'de>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Leaf<'de>, E> {
        Ok(Leaf::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Leaf<'de>, E> {
        Ok(Leaf::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Leaf<'de>, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Leaf<'de>, E> {
        Ok(Leaf::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Leaf<'de>, E> {
        Ok(Leaf::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Leaf<'de>, E> {
        Ok(i64::try_from(v).map_or_else(|_| Leaf::Number(v.to_string()), Leaf::Int))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Leaf<'de>, E> {
        Ok(Leaf::Number(
            serde_json::Number::from_f64(v).map_or_else(|| "null".to_owned(), |n| n.to_string()),
        ))
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Leaf<'de>, E> {
        Ok(Leaf::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Leaf<'de>, E> {
        Ok(Leaf::Str(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Leaf<'de>, E> {
        Ok(Leaf::Str(Cow::Owned(v)))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Leaf<'de>, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Leaf::Compound("an array"))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Leaf<'de>, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Leaf::Compound("an object"))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Leaf<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(LeafVisitor)
    }
}

/// Ids read before a serde error, so the log line of an unreadable payload still names it.
#[derive(Debug, Default)]
struct Salvage {
    top_id: Option<String>,
    detail_id: Option<String>,
    saw_detail: bool,
    /// A top-level `Records` key was read: the input is an SQS batch.
    saw_records: bool,
}

impl Salvage {
    /// The answer for an input no delivery could be read from. An SQS batch stays one (with
    /// one unreadable record and no message id) so that its answer fails the whole batch:
    /// acknowledging it would delete every message in it unseen.
    fn unreadable<'a>(self, error: ParseError) -> Result<Invocation<'a>, RecordError> {
        let sqs = self.saw_records;
        let e = self.error(error);
        if sqs {
            Ok(Invocation::unreadable_batch(e))
        } else {
            Err(e)
        }
    }

    fn error(self, error: ParseError) -> RecordError {
        let (envelope_id, event_id) = if self.saw_detail {
            (self.top_id, self.detail_id)
        } else {
            (None, self.top_id)
        };
        RecordError {
            envelope_id,
            ..RecordError::with_event_id(error, event_id)
        }
    }
}

/// `related_object` of a thin v2 event.
#[derive(Debug, Default, Deserialize)]
struct RelatedObject<'a> {
    #[serde(borrow, default, rename = "type")]
    type_: Text<'a>,
    #[serde(borrow, default)]
    id: Text<'a>,
    #[serde(borrow, default)]
    url: Leaf<'a>,
}

enum ObjectField<'a> {
    Absent,
    /// Boxed: the object (576 bytes) is moved through every level of the parse, and those
    /// copies cost more than its one allocation (callgrind: 2026-11-30, 7 k instructions an
    /// event).
    Object(Box<StripeObject<'a>>),
    /// Present but not an object (`null` included).
    Other,
}

#[derive(Default)]
enum DataField<'a> {
    Object {
        object: ObjectField<'a>,
        previous: Obj<PreviousAttributes<'a>>,
    },
    #[default]
    NotObject,
}

struct DataVisitor<'h>(Option<KindHint<'h>>);

impl<'de> Visitor<'de> for DataVisitor<'_> {
    type Value = DataField<'de>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<DataField<'de>, A::Error> {
        let mut object = ObjectField::Absent;
        let mut previous = Obj::default();
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            match &*key {
                "object" => object = map.next_value_seed(ObjectFieldSeed(self.0))?,
                "previous_attributes" => previous = map.next_value()?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(DataField::Object { object, previous })
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<DataField<'de>, D::Error> {
        d.deserialize_any(self)
    }
    absent_otherwise!(unit, bool, i64, u64, f64, str, seq);
}

/// `data.object`: the typed object when it is a JSON object.
struct ObjectFieldSeed<'h>(Option<KindHint<'h>>);

impl<'de> DeserializeSeed<'de> for ObjectFieldSeed<'_> {
    type Value = ObjectField<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<ObjectField<'de>, D::Error> {
        match d.deserialize_any(LeafOrObject(self.0))? {
            Some(o) => Ok(ObjectField::Object(Box::new(o))),
            None => Ok(ObjectField::Other),
        }
    }
}

struct LeafOrObject<'h>(Option<KindHint<'h>>);

impl<'de> Visitor<'de> for LeafOrObject<'_> {
    type Value = Option<StripeObject<'de>>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        ObjectSeed(self.0)
            .deserialize(de::value::MapAccessDeserializer::new(map))
            .map(Some)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
    absent_otherwise!(unit, bool, i64, u64, f64, str, seq);
}

/// The fields of a Stripe event (v1 `event` or v2 `v2.core.event`) the pipeline reads.
#[derive(Default)]
struct EventFields<'a> {
    id: Leaf<'a>,
    object: Leaf<'a>,
    type_: Leaf<'a>,
    created: Leaf<'a>,
    livemode: Leaf<'a>,
    api_version: Leaf<'a>,
    /// `source` inside an EventBridge detail (an older forwarder's webhook mark).
    source: Leaf<'a>,
    data: Option<DataField<'a>>,
    related_object: Option<Obj<RelatedObject<'a>>>,
    snapshot_event: Leaf<'a>,
    context: Leaf<'a>,
    /// A v1 event's connected account (Connect). (At the top of an EventBridge envelope,
    /// `account` is the AWS account: that struct's is never read as an event's.)
    account: Leaf<'a>,
}

impl<'a> EventFields<'a> {
    /// Reads `key`'s value when it is an event field; `false` when the key is not one.
    fn read<A: MapAccess<'a>>(
        &mut self,
        key: &str,
        map: &mut A,
        hint: Option<KindHint<'_>>,
    ) -> Result<bool, A::Error> {
        match key {
            "id" => self.id = map.next_value()?,
            "object" => self.object = map.next_value()?,
            "type" => self.type_ = map.next_value()?,
            "created" => self.created = map.next_value()?,
            "livemode" => self.livemode = map.next_value()?,
            "api_version" => self.api_version = map.next_value()?,
            "data" => self.data = Some(map.next_value_seed(DataSeed(hint))?),
            "related_object" => self.related_object = Some(map.next_value()?),
            "snapshot_event" => self.snapshot_event = map.next_value()?,
            "context" => self.context = map.next_value()?,
            "account" => self.account = map.next_value()?,
            _ => return Ok(false),
        }
        Ok(true)
    }

    fn looks_like_stripe_event(&self) -> bool {
        match self.object.as_str() {
            Some("event") | Some("v2.core.event") => true,
            _ => {
                (!self.id.is_absent() || !self.type_.is_absent())
                    && (self.data.is_some() || self.related_object.is_some())
            }
        }
    }
}

/// `data`, its `object` read as the hinted kind when there is a hint.
struct DataSeed<'h>(Option<KindHint<'h>>);

impl<'de> DeserializeSeed<'de> for DataSeed<'_> {
    type Value = DataField<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<DataField<'de>, D::Error> {
        d.deserialize_any(DataVisitor(self.0))
    }
}

#[derive(Default)]
enum DetailField<'a> {
    /// Boxed, as the top level is: one allocation per event costs less than copying the
    /// fields (about 500 bytes) at every level of the parse they are returned through.
    Event(Box<EventFields<'a>>),
    #[default]
    NotObject,
}

/// An EventBridge `detail`: a Stripe event, its id noted for the salvage as soon as read.
struct DetailSeed<'s> {
    salvage: &'s mut Salvage,
    hint: Option<KindHint<'s>>,
}

impl<'de> DeserializeSeed<'de> for DetailSeed<'_> {
    type Value = DetailField<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<DetailField<'de>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for DetailSeed<'_> {
    type Value = DetailField<'de>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<DetailField<'de>, A::Error> {
        let mut event = Box::<EventFields>::default();
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            match &*key {
                "source" => event.source = map.next_value()?,
                k => {
                    if !event.read(k, &mut map, self.hint)? {
                        map.next_value::<IgnoredAny>()?;
                    } else if k == "id" {
                        self.salvage.detail_id = event.id.as_str().map(str::to_owned);
                    }
                }
            }
        }
        Ok(DetailField::Event(event))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<DetailField<'de>, D::Error> {
        d.deserialize_any(self)
    }
    absent_otherwise!(unit, bool, i64, u64, f64, str, seq);
}

#[derive(Default)]
enum RawSqsRecord<'a> {
    Record {
        message_id: Leaf<'a>,
        body: Leaf<'a>,
    },
    #[default]
    NotObject,
}

impl<'de> Deserialize<'de> for RawSqsRecord<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawSqsRecord<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an SQS record")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let (mut message_id, mut body) = (Leaf::Absent, Leaf::Absent);
                while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
                    match &*key {
                        "messageId" => message_id = map.next_value()?,
                        "body" => body = map.next_value()?,
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(RawSqsRecord::Record { message_id, body })
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                d.deserialize_any(self)
            }
            absent_otherwise!(unit, bool, i64, u64, f64, str, seq);
        }
        d.deserialize_any(V)
    }
}

#[derive(Default)]
enum RecordsField<'a> {
    Records(Vec<RawSqsRecord<'a>>),
    #[default]
    NotArray,
}

impl<'de> Deserialize<'de> for RecordsField<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RecordsField<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("SQS records")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut records = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(16));
                while let Some(r) = seq.next_element()? {
                    records.push(r);
                }
                Ok(RecordsField::Records(records))
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                d.deserialize_any(self)
            }
            absent_otherwise!(unit, bool, i64, u64, f64, str, map);
        }
        d.deserialize_any(V)
    }
}

/// The top of an invocation: an EventBridge event, an SQS batch or a bare Stripe event.
#[derive(Default)]
struct TopLevel<'a> {
    /// The Stripe event fields; `id` is the envelope's in an EventBridge event.
    event: EventFields<'a>,
    records: Option<RecordsField<'a>>,
    source: Leaf<'a>,
    detail: Option<DetailField<'a>>,
    replay_name: Leaf<'a>,
    /// Set when the input is not a JSON object: its kind.
    not_an_object: Option<&'static str>,
}

struct TopSeed<'s> {
    salvage: &'s mut Salvage,
    /// Where a missed kind hint is reported; `None`: read without hints.
    hints: Option<&'s Cell<bool>>,
}

impl<'de> DeserializeSeed<'de> for TopSeed<'_> {
    type Value = Box<TopLevel<'de>>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Box<TopLevel<'de>>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for TopSeed<'_> {
    type Value = Box<TopLevel<'de>>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Box<TopLevel<'de>>, A::Error> {
        // Boxed: the top level (about 1 KB) is otherwise copied at every return of the parse,
        // which cost more time than the parse of a thin event's keys (perf, 2026-11-30).
        let mut top = Box::<TopLevel>::default();
        // The object kind `detail-type` names, once read.
        let mut hint = None;
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            match &*key {
                "Records" => {
                    self.salvage.saw_records = true;
                    top.records = Some(map.next_value()?);
                }
                "source" => top.source = map.next_value()?,
                "replay-name" => top.replay_name = map.next_value()?,
                "detail-type" => {
                    let detail_type: Leaf<'de> = map.next_value()?;
                    hint = self
                        .hints
                        .zip(detail_type.as_str())
                        .and_then(|(missed, t)| {
                            let kind = object_kind_of(t.strip_prefix("v1.").unwrap_or(t))?;
                            Some(KindHint { kind, missed })
                        });
                }
                "detail" => {
                    self.salvage.saw_detail = true;
                    top.detail = Some(map.next_value_seed(DetailSeed {
                        salvage: &mut *self.salvage,
                        hint,
                    })?);
                }
                k => {
                    if !top.event.read(k, &mut map, None)? {
                        map.next_value::<IgnoredAny>()?;
                    } else if k == "id" {
                        self.salvage.top_id = top.event.id.as_str().map(str::to_owned);
                    }
                }
            }
        }
        Ok(top)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Box<TopLevel<'de>>, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Box<TopLevel<'de>>, E> {
        Ok(TopLevel::not_an_object("null"))
    }
    fn visit_none<E: de::Error>(self) -> Result<Box<TopLevel<'de>>, E> {
        Ok(TopLevel::not_an_object("null"))
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Box<TopLevel<'de>>, E> {
        Ok(TopLevel::not_an_object("a boolean"))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Box<TopLevel<'de>>, E> {
        Ok(TopLevel::not_an_object("a number"))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Box<TopLevel<'de>>, E> {
        Ok(TopLevel::not_an_object("a number"))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Box<TopLevel<'de>>, E> {
        Ok(TopLevel::not_an_object("a number"))
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Box<TopLevel<'de>>, E> {
        Ok(TopLevel::not_an_object("a string"))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Box<TopLevel<'de>>, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(TopLevel::not_an_object("an array"))
    }
}

impl TopLevel<'_> {
    fn not_an_object(kind: &'static str) -> Box<Self> {
        Box::new(TopLevel {
            not_an_object: Some(kind),
            ..TopLevel::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Kind;
    use serde_json::json;

    fn snapshot_event() -> serde_json::Value {
        json!({"id": "evt_1", "object": "event", "type": "customer.subscription.updated",
               "created": 1_700_000_000, "livemode": false, "api_version": "2024-09-30.acacia",
               "data": {"object": {"id": "sub_1", "object": "subscription", "status": "active"}}})
    }

    fn bytes(v: serde_json::Value) -> Vec<u8> {
        serde_json::to_vec(&v).unwrap()
    }

    #[test]
    fn partner_snapshot_is_read_whole() {
        let input = bytes(json!({
            "version": "0", "id": "uuid-1", "detail-type": "customer.subscription.updated",
            "source": "aws.partner/stripe.com/ed_test_abc", "detail": snapshot_event()
        }));
        let inv = parse_bytes(&input).unwrap();
        let d = inv.records[0].delivery().unwrap();
        assert_eq!(d.path.destination_id(), Some("ed_test_abc"));
        assert_eq!(d.style, PayloadStyle::Snapshot);
        assert_eq!(d.family, Family::Subscription);
        assert_eq!(d.dedupe_key(), "evt_1");
        assert_eq!(d.envelope_id.as_deref(), Some("uuid-1"));
        let object = d.data_object.as_ref().unwrap();
        assert!(matches!(object.kind, Kind::Subscription(_)));
        assert_eq!(object.status(), Some("active"));
    }

    #[test]
    fn thin_keys_on_snapshot_event() {
        let input = bytes(json!({
            "id": "evt_thin", "object": "v2.core.event", "type": "v1.invoice.paid",
            "created": "2026-03-07T18:27:56.000Z", "context": "acct_9",
            "related_object": {"id": "in_1", "type": "invoice", "url": "/v1/invoices/in_1"},
            "snapshot_event": "evt_snap"
        }));
        let inv = parse_bytes(&input).unwrap();
        let d = inv.records[0].delivery().unwrap();
        assert_eq!(inv.shape, InvocationShape::BareStripeEvent);
        assert_eq!(d.dedupe_key(), "evt_snap");
        assert_eq!(d.consumer_dedupe_key(Family::Payment), "payment#evt_snap");
        assert_eq!(d.stripe_context.as_deref(), Some("acct_9"));
        assert_eq!(d.family, Family::Payment);
        assert_eq!(
            d.object.as_ref().unwrap().url.as_deref(),
            Some("/v1/invoices/in_1")
        );
    }

    #[test]
    fn an_unreadable_event_names_its_type_and_path() {
        let envelope = |source: &str, created: serde_json::Value| {
            let mut event = snapshot_event();
            event["created"] = created;
            bytes(
                json!({"id": "uuid-1", "source": source, "detail-type": "invoice.paid",
                         "detail": event}),
            )
        };
        let input = envelope("my.app", json!(1_700_000_000));
        let e = parse_bytes(&input).unwrap_err();
        assert_eq!(e.error.code(), "unknown_source");
        assert_eq!(e.path, Some(UNKNOWN_PATH));
        assert_eq!(
            e.event_type,
            snapshot_event()["type"].as_str().map(str::to_owned)
        );
        let input = envelope("stripe.webhook", json!("yesterday"));
        let e = parse_bytes(&input).unwrap_err();
        assert_eq!(e.path, Some("webhook"));
        assert_eq!(
            e.event_type,
            snapshot_event()["type"].as_str().map(str::to_owned)
        );
    }

    #[test]
    fn sqs_batch_keeps_good_records() {
        let eb = json!({"source": "stripe.webhook", "detail-type": "Stripe Webhook Event",
                        "detail": snapshot_event()});
        let input = bytes(json!({"Records": [
            {"messageId": "m1", "body": eb.to_string()},
            {"messageId": "m2", "body": "{not json"},
        ]}));
        let inv = parse_bytes(&input).unwrap();
        assert_eq!(inv.records.len(), 2);
        let good = inv.records[0].delivery().unwrap();
        assert_eq!(good.path.sqs_message_id.as_deref(), Some("m1"));
        assert_eq!(good.path.source, SourcePath::Webhook);
        let bad = inv.records[1].delivery().unwrap_err();
        assert_eq!(bad.sqs_message_id.as_deref(), Some("m2"));
        assert_eq!(bad.error.code(), "sqs_body_not_json");
    }

    #[test]
    fn an_unreadable_sqs_batch_is_still_a_batch_and_never_a_single_event() {
        for input in [
            &br#"{"Records": [{"messageId": "m1", "body": "x""#[..],
            br#"{"Records": 5}"#,
        ] {
            let inv = parse_bytes(input).expect("a batch");
            assert_eq!(inv.shape, InvocationShape::SqsBatch);
            assert_eq!(inv.records.len(), 1);
            assert!(inv.records[0].delivery().is_err());
            assert!(inv.into_single().is_none());
        }
    }

    #[test]
    fn an_unreadable_payload_is_named_by_what_was_read_before_the_error() {
        // 1e400 is valid JSON syntax that serde_json refuses as a number.
        let input = br#"{"version":"0","id":"uuid-7","source":"aws.partner/stripe.com/ed_1","detail":{"id":"evt_7","object":"event","data":{"object":{"id":"ch_1","object":"charge","amount":1e400}}}}"#;
        let e = parse_bytes(input).unwrap_err();
        assert_eq!(e.error.code(), "not_json");
        assert_eq!(e.envelope_id.as_deref(), Some("uuid-7"));
        assert_eq!(e.event_id.as_deref(), Some("evt_7"));
        let mut not_utf8 = br#"{"version":"0","id":"uuid-9","source":"aws.partner/stripe.com/ed_1","detail":{"id":"evt_9","object":"event","data":{"object":{"id":"ch_1","object":"charge","description":"caf?"}}}}"#.to_vec();
        let at = not_utf8.iter().position(|b| *b == b'?').unwrap();
        not_utf8[at] = 0xE9; // Latin-1 é: not UTF-8
        let e = parse_bytes(&not_utf8).unwrap_err();
        assert_eq!(e.error.code(), "not_json");
        assert!(e
            .error
            .to_string()
            .contains(&format!("invalid UTF-8 at byte {at}")));
        assert_eq!(e.envelope_id.as_deref(), Some("uuid-9"));
        assert_eq!(e.event_id.as_deref(), Some("evt_9"));
        let bare = br#"{"id":"evt_8","object":"event","data":{"object":{"amount":NaN}}}"#;
        let e = parse_bytes(bare).unwrap_err();
        assert_eq!(
            (e.envelope_id, e.event_id.as_deref()),
            (None, Some("evt_8"))
        );
    }

    #[test]
    fn the_object_is_read_as_the_kind_detail_type_names_in_any_key_order() {
        // EventBridge's order: `detail-type` before `detail`; the object's keys sorted, so
        // `object` comes after the fields.
        let input = br#"{"id":"uuid-1","detail-type":"customer.subscription.updated","source":"aws.partner/stripe.com/ed_1","detail":{"id":"evt_1","object":"event","type":"customer.subscription.updated","created":1700000000,"data":{"object":{"customer":"cus_1","id":"sub_1","items":{"data":[{"id":"si_1","price":{"id":"price_1","product":"prod_1"}}]},"object":"subscription","status":"active"}}}}"#;
        let d = parse_bytes(input).unwrap().into_single().unwrap().unwrap();
        let object = d.data_object.as_ref().unwrap();
        let Kind::Subscription(s) = &object.kind else {
            panic!("a subscription")
        };
        assert_eq!(
            (object.id(), object.status()),
            (Some("sub_1"), Some("active"))
        );
        assert_eq!(s.customer.get(), Some("cus_1"));
        assert_eq!(object.key_count, 5);
        assert_eq!(d.style, PayloadStyle::Snapshot);
    }

    #[test]
    fn an_object_of_another_kind_than_detail_type_names_is_read_as_what_it_is() {
        for object in [
            r#"{"email":"a@example.com","id":"cus_1","object":"customer"}"#,
            r#"{"id":"cus_1","object":"customer","email":"a@example.com"}"#,
        ] {
            let input = format!(
                r#"{{"id":"uuid-1","detail-type":"customer.subscription.updated","source":"stripe.webhook","detail":{{"id":"evt_1","object":"event","type":"customer.subscription.updated","created":1700000000,"data":{{"object":{object}}}}}}}"#
            );
            let d = parse_bytes(input.as_bytes())
                .unwrap()
                .into_single()
                .unwrap()
                .unwrap();
            let object = d.data_object.as_ref().unwrap();
            let Kind::Customer(c) = &object.kind else {
                panic!("a customer, read as one: {object:?}")
            };
            assert_eq!(c.email.as_ref().and_then(Text::get), Some("a@example.com"));
            assert_eq!(object.object_type(), Some("customer"));
        }
    }

    #[test]
    fn an_escaped_sqs_body_borrows_from_its_own_buffer() {
        let eb = json!({"source": "stripe.webhook", "detail": snapshot_event()});
        let input = bytes(json!({"Records": [{"messageId": "m1", "body": eb.to_string()}]}));
        let inv = parse_bytes(&input).unwrap();
        let Record::Sqs { body, .. } = &inv.records[0] else {
            panic!("an SQS record")
        };
        assert!(
            matches!(body, Cow::Owned(_)),
            "quotes in a body are escaped"
        );
        let d = inv.records[0].delivery().unwrap();
        assert_eq!(d.object_id(), "sub_1");
    }
}

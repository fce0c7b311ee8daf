//! The one entry point from "whatever a Lambda was invoked with" to Stripe deliveries.

use serde_json::{Map, Value};

use crate::delivery::{Delivery, DeliveryPath, ObjectRef, PayloadStyle, SourcePath};
use crate::error::ParseError;
use crate::family::Family;
use crate::prune::parse_pruned;
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
    /// The Stripe event id when it could be read despite the error.
    pub event_id: Option<String>,
    pub error: ParseError,
}

impl RecordError {
    fn new(error: ParseError) -> Self {
        RecordError {
            sqs_message_id: None,
            event_id: None,
            error,
        }
    }
}

impl std::fmt::Display for RecordError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

impl std::error::Error for RecordError {}

#[derive(Debug, Clone, PartialEq)]
pub struct Invocation {
    pub shape: InvocationShape,
    /// One entry per delivery: one for EventBridge and bare events, one per SQS record.
    pub records: Vec<Result<Delivery, RecordError>>,
}

/// Parses raw bytes (e.g. a file or an HTTP body), keeping of each object only what the
/// pipeline reads (`prune.rs`).
pub fn parse_bytes(bytes: &[u8]) -> Result<Invocation, RecordError> {
    let value: Value = parse_pruned(bytes).map_err(|e| {
        RecordError::new(ParseError::NotJson {
            detail: e.to_string(),
        })
    })?;
    parse_invocation(value)
}

/// Parses a Lambda invocation payload. A top-level error means no delivery could be read at
/// all; in an SQS batch each bad record is its own `Err` and the good ones still parse.
pub fn parse_invocation(value: Value) -> Result<Invocation, RecordError> {
    let Value::Object(mut map) = value else {
        return Err(RecordError::new(ParseError::UnrecognisedShape {
            found: json_kind(&value),
        }));
    };
    if let Some(records) = map.remove("Records") {
        let Value::Array(records) = records else {
            return Err(RecordError::new(ParseError::WrongType {
                field: "Records",
                expected: "an array",
            }));
        };
        let records = records.into_iter().map(parse_sqs_record).collect();
        return Ok(Invocation {
            shape: InvocationShape::SqsBatch,
            records,
        });
    }
    let (shape, delivery) = parse_event_object(map)?;
    Ok(Invocation {
        shape,
        records: vec![Ok(delivery)],
    })
}

fn parse_sqs_record(record: Value) -> Result<Delivery, RecordError> {
    let Value::Object(mut record) = record else {
        return Err(RecordError::new(ParseError::WrongType {
            field: "Records[]",
            expected: "an object",
        }));
    };
    let message_id = match record.remove("messageId") {
        Some(Value::String(id)) => Some(id),
        _ => None,
    };
    let with_id = |error: ParseError| RecordError {
        sqs_message_id: message_id.clone(),
        event_id: None,
        error,
    };
    let body = match record.remove("body") {
        Some(Value::String(body)) => body,
        Some(_) => {
            return Err(with_id(ParseError::WrongType {
                field: "body",
                expected: "a string",
            }))
        }
        None => return Err(with_id(ParseError::MissingField { field: "body" })),
    };
    let Some(message_id) = message_id.clone() else {
        return Err(with_id(ParseError::MissingField { field: "messageId" }));
    };
    let inner: Value = parse_pruned(body.as_bytes()).map_err(|e| {
        with_id(ParseError::SqsBodyNotJson {
            detail: e.to_string(),
        })
    })?;
    let Value::Object(inner) = inner else {
        return Err(with_id(ParseError::UnrecognisedShape {
            found: json_kind(&inner),
        }));
    };
    match parse_event_object(inner) {
        Ok((_, mut delivery)) => {
            delivery.path.sqs_message_id = Some(message_id);
            Ok(delivery)
        }
        Err(mut e) => {
            e.sqs_message_id = Some(message_id);
            Err(e)
        }
    }
}

/// An EventBridge event or a bare Stripe event.
fn parse_event_object(map: Map<String, Value>) -> Result<(InvocationShape, Delivery), RecordError> {
    if map.contains_key("detail") && map.contains_key("source") {
        parse_eventbridge(map).map(|d| (InvocationShape::EventBridge, d))
    } else if looks_like_stripe_event(&map) {
        let path = DeliveryPath {
            source: SourcePath::Bare,
            sqs_message_id: None,
        };
        parse_stripe_event(map, path, None, None).map(|d| (InvocationShape::BareStripeEvent, d))
    } else {
        Err(RecordError::new(ParseError::UnrecognisedShape {
            found: "an object without EventBridge `source`/`detail` or Stripe `id`/`type`",
        }))
    }
}

fn looks_like_stripe_event(map: &Map<String, Value>) -> bool {
    match map.get("object").and_then(Value::as_str) {
        Some("event") | Some("v2.core.event") => true,
        _ => {
            (map.contains_key("id") || map.contains_key("type"))
                && (map.contains_key("data") || map.contains_key("related_object"))
        }
    }
}

fn parse_eventbridge(mut map: Map<String, Value>) -> Result<Delivery, RecordError> {
    let envelope_id = take_string(&mut map, "id");
    let replay_name = take_string(&mut map, "replay-name");
    let source = match map.remove("source") {
        Some(Value::String(s)) => s,
        _ => {
            return Err(RecordError::new(ParseError::WrongType {
                field: "source",
                expected: "a string",
            }))
        }
    };
    let Some(Value::Object(detail)) = map.remove("detail") else {
        return Err(RecordError::new(ParseError::WrongType {
            field: "detail",
            expected: "an object",
        }));
    };
    let source_path = if source == WEBHOOK_SOURCE {
        SourcePath::Webhook
    } else if let Some(destination_id) = source.strip_prefix(PARTNER_SOURCE_PREFIX) {
        SourcePath::Partner {
            destination_id: destination_id.to_owned(),
        }
    } else if detail.get("source").and_then(Value::as_str) == Some(WEBHOOK_SOURCE) {
        // An older forwarder marked webhook events inside the detail.
        SourcePath::Webhook
    } else {
        return Err(RecordError {
            sqs_message_id: None,
            event_id: detail.get("id").and_then(Value::as_str).map(str::to_owned),
            error: ParseError::UnknownSource {
                source_name: source,
            },
        });
    };
    let path = DeliveryPath {
        source: source_path,
        sqs_message_id: None,
    };
    parse_stripe_event(detail, path, envelope_id, replay_name)
}

fn parse_stripe_event(
    mut ev: Map<String, Value>,
    path: DeliveryPath,
    envelope_id: Option<String>,
    replay_name: Option<String>,
) -> Result<Delivery, RecordError> {
    let event_id = ev.get("id").and_then(Value::as_str).map(str::to_owned);
    let fail = |error: ParseError| RecordError {
        sqs_message_id: None,
        event_id: event_id.clone(),
        error,
    };
    let id = required_string(&ev, "id").map_err(fail)?;
    let event_type = required_string(&ev, "type").map_err(fail)?;
    let livemode = match ev.get("livemode") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            return Err(fail(ParseError::WrongType {
                field: "livemode",
                expected: "a boolean",
            }))
        }
    };
    let created = match ev.get("created") {
        None | Some(Value::Null) => {
            return Err(fail(ParseError::MissingField { field: "created" }))
        }
        Some(v) => Timestamp::from_json(v).ok_or_else(|| {
            fail(ParseError::InvalidTimestamp {
                value: v.to_string(),
            })
        })?,
    };
    let api_version = ev
        .get("api_version")
        .and_then(Value::as_str)
        .map(str::to_owned);

    let previous_attributes = ev
        .get_mut("data")
        .and_then(|d| d.get_mut("previous_attributes"))
        .map(Value::take)
        .filter(Value::is_object);
    let is_thin_v2 = ev.get("object").and_then(Value::as_str) == Some("v2.core.event");
    let (style, object, data_object, snapshot_event, stripe_context) = if is_thin_v2 {
        let related = ev.get("related_object").and_then(Value::as_object);
        let reference = related.and_then(|r| {
            Some(ObjectRef {
                object_type: r.get("type")?.as_str()?.to_owned(),
                id: r.get("id")?.as_str()?.to_owned(),
                url: r.get("url").and_then(Value::as_str).map(str::to_owned),
            })
        });
        // v2 events such as `v2.core.event_destination.ping` carry no object: valid, signed
        // Stripe events that no family stores. A family's event without one is unusable.
        if reference.is_none() && Family::of_event_type(&event_type) != Family::None {
            return Err(fail(ParseError::ThinWithoutReference));
        }
        let snapshot_event = ev
            .get("snapshot_event")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let context = ev.get("context").and_then(Value::as_str).map(str::to_owned);
        (
            PayloadStyle::ThinV2,
            reference,
            None,
            snapshot_event,
            context,
        )
    } else {
        let data_object = match ev.get_mut("data").and_then(|d| d.get_mut("object")) {
            Some(Value::Object(o)) => std::mem::take(o),
            Some(_) => {
                return Err(fail(ParseError::WrongType {
                    field: "data.object",
                    expected: "an object",
                }))
            }
            None => {
                return Err(fail(ParseError::MissingField {
                    field: "data.object",
                }))
            }
        };
        // Some objects have no id (an upcoming invoice); the projection decides what to do.
        let object_id = match data_object.get("id") {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(_) => {
                return Err(fail(ParseError::WrongType {
                    field: "data.object.id",
                    expected: "a string",
                }))
            }
        };
        let object_type = data_object
            .get("object")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| {
                fail(ParseError::MissingField {
                    field: "data.object.object",
                })
            })?;
        let only_reference = data_object.len() == 2;
        let object = ObjectRef {
            object_type,
            id: object_id,
            url: None,
        };
        if only_reference {
            (PayloadStyle::ThinReference, Some(object), None, None, None)
        } else {
            let full = Value::Object(data_object);
            (PayloadStyle::Snapshot, Some(object), Some(full), None, None)
        }
    };
    Ok(Delivery {
        family: Family::of_event_type(&event_type),
        path,
        style,
        event_id: id,
        event_type,
        created,
        livemode,
        api_version,
        object,
        snapshot_event,
        stripe_context,
        envelope_id,
        replay_name,
        data_object,
        previous_attributes,
    })
}

fn required_string(map: &Map<String, Value>, field: &'static str) -> Result<String, ParseError> {
    match map.get(field) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        None | Some(Value::Null) => Err(ParseError::MissingField { field }),
        Some(Value::String(_)) => Err(ParseError::MissingField { field }),
        Some(_) => Err(ParseError::WrongType {
            field,
            expected: "a string",
        }),
    }
}

fn take_string(map: &mut Map<String, Value>, field: &str) -> Option<String> {
    match map.remove(field) {
        Some(Value::String(s)) => Some(s),
        _ => None,
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn snapshot_event() -> Value {
        json!({"id": "evt_1", "object": "event", "type": "customer.subscription.updated",
               "created": 1_700_000_000, "livemode": false, "api_version": "2024-09-30.acacia",
               "data": {"object": {"id": "sub_1", "object": "subscription", "status": "active"}}})
    }

    #[test]
    fn partner_snapshot_is_read_whole() {
        let inv = parse_invocation(json!({
            "version": "0", "id": "uuid-1", "detail-type": "customer.subscription.updated",
            "source": "aws.partner/stripe.com/ed_test_abc", "detail": snapshot_event()
        }))
        .unwrap();
        let d = inv.records[0].as_ref().unwrap();
        assert_eq!(d.path.destination_id(), Some("ed_test_abc"));
        assert_eq!(d.style, PayloadStyle::Snapshot);
        assert_eq!(d.family, Family::Subscription);
        assert_eq!(d.dedupe_key(), "evt_1");
        assert_eq!(d.envelope_id.as_deref(), Some("uuid-1"));
        assert_eq!(d.data_object.as_ref().unwrap()["status"], "active");
    }

    #[test]
    fn thin_keys_on_snapshot_event() {
        let inv = parse_invocation(json!({
            "id": "evt_thin", "object": "v2.core.event", "type": "v1.invoice.paid",
            "created": "2026-03-07T18:27:56.000Z", "context": "acct_9",
            "related_object": {"id": "in_1", "type": "invoice", "url": "/v1/invoices/in_1"},
            "snapshot_event": "evt_snap"
        }))
        .unwrap();
        let d = inv.records[0].as_ref().unwrap();
        assert_eq!(inv.shape, InvocationShape::BareStripeEvent);
        assert_eq!(d.dedupe_key(), "evt_snap");
        assert_eq!(d.consumer_dedupe_key(Family::Payment), "payment#evt_snap");
        assert_eq!(d.stripe_context.as_deref(), Some("acct_9"));
        assert_eq!(d.family, Family::Payment);
        assert_eq!(d.audit_path(), "direct");
    }

    #[test]
    fn sqs_batch_keeps_good_records() {
        let eb = json!({"source": "stripe.webhook", "detail-type": "Stripe Webhook Event",
                        "detail": snapshot_event()});
        let inv = parse_invocation(json!({"Records": [
            {"messageId": "m1", "body": eb.to_string()},
            {"messageId": "m2", "body": "{not json"},
        ]}))
        .unwrap();
        assert_eq!(inv.records.len(), 2);
        let good = inv.records[0].as_ref().unwrap();
        assert_eq!(good.path.sqs_message_id.as_deref(), Some("m1"));
        assert_eq!(good.audit_path(), "webhook");
        let bad = inv.records[1].as_ref().unwrap_err();
        assert_eq!(bad.sqs_message_id.as_deref(), Some("m2"));
        assert_eq!(bad.error.code(), "sqs_body_not_json");
    }
}

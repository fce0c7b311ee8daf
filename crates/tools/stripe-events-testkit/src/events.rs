//! Event builders: the shapes of each delivery path, and one parsed delivery.

use serde_json::{json, Value};
use stripe_events_core::delivery::Delivery;
use stripe_events_core::parse::{parse_bytes, Record};
use stripe_events_core::Timestamp;

pub const PARTNER_SOURCE: &str =
    "aws.partner/stripe.com/ed_test_61RM8nQ4bWvK2rTsH16RM8lgBsSQ7kYpZcXeJtDm3A2c";

/// The one delivery in an invocation payload (its bytes leaked: a delivery borrows them).
pub fn delivery(payload: Value) -> Delivery<'static> {
    let bytes: &'static [u8] = Box::leak(payload.to_string().into_bytes().into_boxed_slice());
    let mut invocation = parse_bytes(bytes).expect("payload parses");
    assert_eq!(invocation.records.len(), 1);
    match invocation.records.remove(0) {
        Record::Read(d) => d.expect("record parses"),
        Record::Sqs { .. } => panic!("not an SQS batch"),
    }
}

/// A partner-delivered v2 thin notification (`related_object`, ISO `created`).
pub fn thin_v2(
    event_type: &str,
    object_type: &str,
    id: &str,
    url: Option<&str>,
    context: Option<&str>,
) -> Value {
    let mut related = json!({"id": id, "type": object_type});
    if let Some(url) = url {
        related["url"] = json!(url);
    }
    json!({
        "version": "0",
        "id": "6429c1c6-4aee-422a-b01f-e42680c5d9b8",
        "detail-type": event_type,
        "source": PARTNER_SOURCE,
        "account": "313476888312",
        "time": "2026-03-27T18:27:56Z",
        "region": "us-east-2",
        "resources": [],
        "detail": {
            "id": format!("evt_test_thin_{id}"),
            "object": "v2.core.event",
            "type": event_type,
            "created": "2026-03-27T18:27:56.000Z",
            "livemode": false,
            "context": context,
            "related_object": related,
            "snapshot_event": format!("evt_snap_{id}")
        }
    })
}

/// The legacy thin reference: `data.object` is only `{id, object}`, with the literal
/// `detail-type: "Stripe Event"`.
pub fn thin_reference(event_type: &str, object_type: &str, id: &str) -> Value {
    json!({
        "version": "0",
        "id": "57e62b5e-cb38-4805-8535-60c085986a0f",
        "detail-type": "Stripe Event",
        "source": PARTNER_SOURCE,
        "account": "313476888312",
        "time": "2026-03-17T18:27:57Z",
        "region": "us-east-2",
        "resources": [],
        "detail": {
            "id": format!("evt_note_{id}"),
            "type": event_type,
            "data": {"object": {"id": id, "object": object_type}},
            "created": 1_773_772_077,
            "livemode": false
        }
    })
}

/// A bare snapshot event carrying `object` in full.
pub fn snapshot(event_type: &str, object: Value) -> Value {
    json!({
        "id": "evt_snapshot_1",
        "object": "event",
        "type": event_type,
        "created": 1_773_772_077,
        "livemode": false,
        "api_version": "2017-08-15",
        "data": {"object": object}
    })
}

/// A bare snapshot event as a webhook delivers it (`created` now).
pub fn snapshot_event(id: &str, event_type: &str, object: Value) -> Value {
    json!({
        "id": id, "object": "event", "api_version": "2024-09-30.acacia",
        "created": Timestamp::now().unix_seconds(), "livemode": false, "pending_webhooks": 1,
        "request": {"id": "req_1", "idempotency_key": null}, "type": event_type,
        "data": {"object": object}
    })
}

/// A thin v2 event as a webhook delivers it (`related_object.url` the v1 path of the object).
pub fn thin_event(id: &str, event_type: &str, object_type: &str, object_id: &str) -> Value {
    json!({
        "id": id, "object": "v2.core.event", "type": event_type,
        "created": "2026-03-07T18:27:56.000Z", "livemode": false, "context": null,
        "related_object": {"id": object_id, "type": object_type,
                           "url": format!("/v1/{object_type}s/{object_id}")},
        "snapshot_event": format!("{id}_snap")
    })
}

//! Putting a verified Stripe event onto the custom bus.
//!
//! The entry is `Source = "stripe.webhook"`, `DetailType = "Stripe Webhook Event"`,
//! `Detail` = the webhook body unchanged. An entry that does not stay
//! [`ENTRY_SAFETY_MARGIN_BYTES`] under EventBridge's 256 KB limit (measured as AWS does:
//! UTF-8 bytes of Source + DetailType + Detail + each Resource, plus 14 for Time; we set
//! neither Time nor Resources) is replaced by a reference the consumers hydrate from the
//! Stripe API, so a large event is never dropped.

use std::future::Future;

use serde_json::{json, Map, Value};
use stripe_events_core::{Delivery, PayloadStyle};
use thiserror::Error;

pub const SOURCE: &str = "stripe.webhook";
pub const DETAIL_TYPE: &str = "Stripe Webhook Event";
/// EventBridge's entry limit: "The total entry size must be less than 256KB".
pub const MAX_ENTRY_BYTES: usize = 256 * 1024;
/// Kept free under [`MAX_ENTRY_BYTES`]: an entry is sent whole only when its size plus this
/// is still under the limit. AWS's own texts differ on what counts (the user guide's rule,
/// [`entry_size`], counts the parameters only; the PutEvents API reference says the size
/// includes "any necessary characters and keys of the JSON representation of the event",
/// which here adds about 200 bytes of envelope), and an entry refused for its size would be
/// refused again on every Stripe retry. 1 KiB covers that envelope several times over; an
/// event in those last bytes costs one Stripe read as a reference and is never lost.
pub const ENTRY_SAFETY_MARGIN_BYTES: usize = 1024;
/// What AWS counts for an entry's `Time` when it is set.
const TIME_BYTES: usize = 14;

/// A PutEvents entry's size as EventBridge counts it ("Calculating Amazon EventBridge
/// PutEvents event entry size"): 14 bytes for `Time` when set, then the UTF-8 bytes of
/// `Source`, `DetailType`, `Detail` and each of `Resources`. `EventBusName` and
/// `TraceHeader` are not counted.
pub fn entry_size(
    time_set: bool,
    source: &str,
    detail_type: &str,
    detail: &str,
    resources: &[&str],
) -> usize {
    let time = if time_set { TIME_BYTES } else { 0 };
    time + source.len()
        + detail_type.len()
        + detail.len()
        + resources.iter().map(|r| r.len()).sum::<usize>()
}

/// One PutEvents entry (the bus name belongs to the forwarder).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusEntry {
    pub source: &'static str,
    pub detail_type: &'static str,
    pub detail: String,
    /// X-Ray trace header of the invocation, passed through to EventBridge.
    pub trace_header: Option<String>,
}

impl BusEntry {
    pub fn new(detail: String) -> Self {
        BusEntry {
            source: SOURCE,
            detail_type: DETAIL_TYPE,
            detail,
            trace_header: None,
        }
    }

    /// The entry size as EventBridge computes it ([`entry_size`]; this entry sets neither
    /// `Time` nor `Resources`).
    pub fn size(&self) -> usize {
        entry_size(false, self.source, self.detail_type, &self.detail, &[])
    }

    /// Under EventBridge's limit with [`ENTRY_SAFETY_MARGIN_BYTES`] to spare.
    pub fn fits(&self) -> bool {
        self.size() + ENTRY_SAFETY_MARGIN_BYTES < MAX_ENTRY_BYTES
    }
}

/// What was put on the bus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forwarded {
    /// The webhook body itself.
    Event,
    /// A reference to hydrate from the Stripe API (the event was too large).
    Reference,
}

impl Forwarded {
    pub fn as_str(self) -> &'static str {
        match self {
            Forwarded::Event => "event",
            Forwarded::Reference => "reference",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EntryError {
    #[error("even the reference entry is {size} bytes, over EventBridge's limit")]
    ReferenceTooLarge { size: usize },
    #[error("the event body is not a JSON object")]
    NotAnObject,
}

/// The entry for a verified, parsed event: the body unchanged when it fits, else a reference.
pub fn entry_for(body: &str, delivery: &Delivery<'_>) -> Result<(BusEntry, Forwarded), EntryError> {
    let whole = BusEntry::new(body.to_owned());
    if whole.fits() {
        return Ok((whole, Forwarded::Event));
    }
    let event: Value = serde_json::from_str(body).map_err(|_| EntryError::NotAnObject)?;
    let Value::Object(event) = event else {
        return Err(EntryError::NotAnObject);
    };
    let reference = BusEntry::new(reference_detail(&event, delivery).to_string());
    if !reference.fits() {
        return Err(EntryError::ReferenceTooLarge {
            size: reference.size(),
        });
    }
    Ok((reference, Forwarded::Reference))
}

/// The reference for an oversized event. Snapshot events (and legacy thin references) become
/// the legacy thin reference `{id, object: "event", type, created, livemode, api_version,
/// data: {object: {id, object}}}`, which the consumers hydrate by `data.object`; ids and
/// `created` are copied unchanged so dedupe keys and ordering stay those of the event. A thin
/// v2 notification keeps its own shape minus anything beyond the reference fields.
pub fn reference_detail(event: &Map<String, Value>, delivery: &Delivery<'_>) -> Value {
    let field = |k: &str| event.get(k).cloned().unwrap_or(Value::Null);
    if delivery.style == PayloadStyle::ThinV2 {
        let mut out = Map::new();
        for key in [
            "id",
            "object",
            "type",
            "created",
            "livemode",
            "context",
            "snapshot_event",
        ] {
            if let Some(v) = event.get(key) {
                out.insert(key.to_owned(), v.clone());
            }
        }
        if let Some(object) = &delivery.object {
            let mut related = Map::new();
            related.insert("id".into(), json!(object.id));
            related.insert("type".into(), json!(object.object_type));
            if let Some(url) = &object.url {
                related.insert("url".into(), json!(url));
            }
            out.insert("related_object".into(), Value::Object(related));
        }
        return Value::Object(out);
    }
    let mut reference = Map::new();
    // An object without an id (an upcoming invoice) stays without one: the consumer then
    // ignores it as it does the whole snapshot, instead of trying to fetch an empty id.
    if let Some(id) = event
        .get("data")
        .and_then(|d| d.get("object"))
        .and_then(|o| o.get("id"))
        .filter(|id| !id.is_null())
    {
        reference.insert("id".into(), id.clone());
    }
    reference.insert(
        "object".into(),
        json!(delivery.object.as_ref().map(|o| o.object_type.as_str())),
    );
    let mut out = json!({
        "id": field("id"),
        "object": "event",
        "type": field("type"),
        "created": field("created"),
        "livemode": event.get("livemode").cloned().unwrap_or(Value::Bool(false)),
        "api_version": field("api_version"),
        "data": {"object": reference},
    });
    // A connected account's event: the consumer fetches the object with `Stripe-Account`.
    if let (Some(account), Some(out)) = (event.get("account"), out.as_object_mut()) {
        out.insert("account".into(), account.clone());
    }
    out
}

/// Why EventBridge did not take the entry. Every variant means "not on the bus": the
/// webhook answers 500 so Stripe retries.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ForwardError {
    /// The call failed (network, throttling after retries, access denied, no such bus, …).
    #[error("PutEvents call failed: {0}")]
    Call(String),
    /// The call succeeded but the entry was not ingested.
    #[error("PutEvents rejected the entry: {code}: {message}")]
    EntryFailed { code: String, message: String },
    /// The answer does not confirm the entry (not exactly one result, or no or an empty
    /// event id).
    #[error("PutEvents did not confirm the entry: {0}")]
    Unconfirmed(String),
}

/// Puts one entry on the bus. Returns the event id EventBridge gave it (the real forwarder
/// always has one; stand-ins may not).
pub trait Forwarder: Send + Sync {
    fn put(
        &self,
        entry: &BusEntry,
    ) -> impl Future<Output = Result<Option<String>, ForwardError>> + Send;
}

/// The real forwarder: PutEvents on one bus.
#[derive(Debug, Clone)]
pub struct EventBridgeForwarder {
    client: aws_sdk_eventbridge::Client,
    bus_name: String,
}

impl EventBridgeForwarder {
    pub fn new(client: aws_sdk_eventbridge::Client, bus_name: impl Into<String>) -> Self {
        EventBridgeForwarder {
            client,
            bus_name: bus_name.into(),
        }
    }

    pub fn bus_name(&self) -> &str {
        &self.bus_name
    }
}

impl Forwarder for EventBridgeForwarder {
    async fn put(&self, entry: &BusEntry) -> Result<Option<String>, ForwardError> {
        use aws_sdk_eventbridge::types::PutEventsRequestEntry;
        let request_entry = PutEventsRequestEntry::builder()
            .event_bus_name(&self.bus_name)
            .source(entry.source)
            .detail_type(entry.detail_type)
            .detail(&entry.detail)
            .set_trace_header(entry.trace_header.clone())
            .build();
        let out = self
            .client
            .put_events()
            .entries(request_entry)
            .send()
            .await
            .map_err(|e| {
                ForwardError::Call(aws_sdk_eventbridge::error::DisplayErrorContext(&e).to_string())
            })?;
        let result = out.entries().first();
        let entry_error = result.and_then(|r| r.error_code());
        if out.failed_entry_count() != 0 || entry_error.is_some() {
            return Err(ForwardError::EntryFailed {
                code: entry_error.unwrap_or("unknown").to_owned(),
                message: result
                    .and_then(|r| r.error_message())
                    .unwrap_or_default()
                    .to_owned(),
            });
        }
        // EventBridge answers one result per entry, with the id it gave the event: anything
        // else (a proxy, a fault, an empty id) does not show the event is on the bus.
        match (out.entries(), result.and_then(|r| r.event_id())) {
            ([_], Some(id)) if !id.is_empty() => Ok(Some(id.to_owned())),
            (entries, _) => Err(ForwardError::Unconfirmed(format!(
                "{} result entries, event id {:?}",
                entries.len(),
                result.and_then(|r| r.event_id())
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stripe_events_core::parse_bytes;

    fn delivery(body: &str) -> Delivery<'_> {
        parse_bytes(body.as_bytes())
            .unwrap()
            .into_single()
            .expect("one event")
            .unwrap()
    }

    #[test]
    fn size_counts_source_detail_type_and_detail_bytes() {
        let e = BusEntry::new("{\"k\":\"é\"}".into());
        // 9 ASCII bytes plus a 2-byte é: bytes, not chars.
        assert_eq!(e.size(), 14 + 20 + 10);
        // AWS's rule: Time 14 bytes when set, each Resource's bytes; the bus name is not
        // counted (it is not a parameter).
        assert_eq!(entry_size(false, SOURCE, DETAIL_TYPE, "{}", &[]), 36);
        assert_eq!(entry_size(true, SOURCE, DETAIL_TYPE, "{}", &[]), 50);
        assert_eq!(
            entry_size(false, SOURCE, DETAIL_TYPE, "{}", &["arn:é", "x"]),
            36 + 7
        );
    }

    #[test]
    fn an_entry_near_the_limit_keeps_the_safety_margin() {
        let limit_detail =
            MAX_ENTRY_BYTES - ENTRY_SAFETY_MARGIN_BYTES - SOURCE.len() - DETAIL_TYPE.len();
        assert!(BusEntry::new("x".repeat(limit_detail - 1)).fits());
        assert!(!BusEntry::new("x".repeat(limit_detail)).fits());
        // The checker's case: a 262,109-byte event, an entry of 262,143 bytes (one under
        // AWS's limit), goes out as the reference, not whole.
        let head = json!({"id": "evt_edge", "object": "event", "type": "invoice.updated",
            "created": 1_700_000_001, "livemode": false,
            "data": {"object": {"id": "in_edge", "object": "invoice", "memo": ""}}})
        .to_string();
        let pad = 262_109 - head.len();
        let body = head.replace(r#""memo":"""#, &format!(r#""memo":"{}""#, "m".repeat(pad)));
        assert_eq!(body.len(), 262_109);
        assert_eq!(BusEntry::new(body.clone()).size(), 262_143);
        let (entry, how) = entry_for(&body, &delivery(&body)).unwrap();
        assert_eq!(how, Forwarded::Reference);
        assert!(entry.fits());
    }

    #[test]
    fn small_events_go_unchanged() {
        let body = r#"{"id":"evt_1","object":"event","type":"invoice.paid","created":1700000000,
            "data":{"object":{"id":"in_1","object":"invoice","total":100}}}"#;
        let (entry, how) = entry_for(body, &delivery(body)).unwrap();
        assert_eq!(how, Forwarded::Event);
        assert_eq!(entry.detail, body);
    }

    #[test]
    fn large_snapshot_becomes_the_notes_thin_shape() {
        let filler = "a".repeat(MAX_ENTRY_BYTES);
        let body = json!({"id": "evt_big", "object": "event", "type": "invoice.updated",
            "created": 1_700_000_001, "livemode": true, "api_version": "2024-09-30.acacia",
            "pending_webhooks": 1,
            "data": {"object": {"id": "in_big", "object": "invoice", "memo": filler}}})
        .to_string();
        let d = delivery(&body);
        let (entry, how) = entry_for(&body, &d).unwrap();
        assert_eq!(how, Forwarded::Reference);
        let detail: Value = serde_json::from_str(&entry.detail).unwrap();
        assert_eq!(
            detail,
            json!({"id": "evt_big", "object": "event", "type": "invoice.updated",
                   "created": 1_700_000_001, "livemode": true, "api_version": "2024-09-30.acacia",
                   "data": {"object": {"id": "in_big", "object": "invoice"}}})
        );
        let r = delivery(&entry.detail);
        assert_eq!(r.style, PayloadStyle::ThinReference);
        assert_eq!(r.event_id, "evt_big");
        assert_eq!(r.created, d.created);
        assert_eq!(r.family, d.family);
    }

    #[test]
    fn a_connected_accounts_large_event_keeps_its_account() {
        let filler = "a".repeat(MAX_ENTRY_BYTES);
        let body = json!({"id": "evt_conn", "object": "event", "type": "invoice.updated",
            "account": "acct_1Conn", "created": 1_700_000_001, "livemode": true,
            "data": {"object": {"id": "in_conn", "object": "invoice", "memo": filler}}})
        .to_string();
        let (entry, how) = entry_for(&body, &delivery(&body)).unwrap();
        assert_eq!(how, Forwarded::Reference);
        let r = delivery(&entry.detail);
        assert_eq!(r.stripe_account.as_deref(), Some("acct_1Conn"));
    }

    #[test]
    fn a_large_object_without_an_id_stays_without_one() {
        let filler = "a".repeat(MAX_ENTRY_BYTES);
        let body = json!({"id": "evt_up", "object": "event", "type": "invoice.upcoming",
            "created": 1_700_000_001, "livemode": false,
            "data": {"object": {"object": "invoice", "memo": filler}}})
        .to_string();
        let d = delivery(&body);
        let (entry, how) = entry_for(&body, &d).unwrap();
        assert_eq!(how, Forwarded::Reference);
        let detail: Value = serde_json::from_str(&entry.detail).unwrap();
        assert_eq!(detail["data"], json!({"object": {"object": "invoice"}}));
        // Read back, it is an object without an id (ignored by the consumer), not a reference
        // with an empty id to fetch.
        let r = delivery(&entry.detail);
        assert_ne!(r.style, PayloadStyle::ThinReference);
        let object = r.data_object.as_deref().expect("the object");
        assert_eq!(object.id(), None);
    }

    #[test]
    fn large_thin_v2_keeps_its_reference_fields() {
        let body = json!({"id": "evt_t", "object": "v2.core.event", "type": "v1.invoice.paid",
            "created": "2026-03-07T18:27:56.000Z", "livemode": false, "context": null,
            "related_object": {"id": "in_1", "type": "invoice", "url": "/v1/invoices/in_1",
                               "junk": "b".repeat(MAX_ENTRY_BYTES)},
            "snapshot_event": "evt_s", "reason": {"x": 1}})
        .to_string();
        let (entry, how) = entry_for(&body, &delivery(&body)).unwrap();
        assert_eq!(how, Forwarded::Reference);
        let r = delivery(&entry.detail);
        assert_eq!(r.style, PayloadStyle::ThinV2);
        assert_eq!(r.dedupe_key(), "evt_s");
        assert_eq!(
            r.object.as_ref().and_then(|o| o.url.as_deref()),
            Some("/v1/invoices/in_1")
        );
    }

    #[test]
    fn absurd_ids_are_reported_not_dropped_silently() {
        let body =
            json!({"id": "x".repeat(MAX_ENTRY_BYTES), "object": "event", "type": "invoice.paid",
            "created": 1, "data": {"object": {"id": "in_1", "object": "invoice", "f": 1}}})
            .to_string();
        assert!(matches!(
            entry_for(&body, &delivery(&body)),
            Err(EntryError::ReferenceTooLarge { .. })
        ));
    }
}

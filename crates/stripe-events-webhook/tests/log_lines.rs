//! The webhook's log lines as the Lambda writes them (the Lambdas' own JSON subscriber, one
//! line per request): every line carries the consumers' fields `event_id`, `event_type`,
//! `path` (`webhook`), `outcome` and `detail`, with the event's id and type whenever the
//! signed body names them. In process, no local stack.

use std::io::Write;
use std::sync::{Arc, Mutex};

use hmac::{Hmac, KeyInit, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use stripe_events_core::Timestamp;
use stripe_events_lambda::{subscriber, LogFormat};
use stripe_events_testkit::events::snapshot_event;
use stripe_events_testkit::webhook::{function_url_request, FakeForwarder};
use stripe_events_webhook::forward::MAX_ENTRY_BYTES;
use stripe_events_webhook::{
    ApiGatewayV2httpRequest, ForwardError, SecretStore, WebhookHandler, WebhookSecrets,
};

const SECRET: &str = "whsec_test_log_lines_5e6f7a8b9c0d";

/// The lines a test reads back.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn handler(fail: Option<ForwardError>) -> WebhookHandler<FakeForwarder> {
    WebhookHandler::new(
        SecretStore::fixed(WebhookSecrets::parse(SECRET).expect("secret")),
        300,
        FakeForwarder {
            fail,
            ..Default::default()
        },
    )
}

fn signed(body: &str, now: i64) -> ApiGatewayV2httpRequest {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).expect("any key length");
    mac.update(format!("{now}.{body}").as_bytes());
    let header = format!("t={now},v1={}", hex::encode(mac.finalize().into_bytes()));
    function_url_request(body, false, &[("stripe-signature", &header)])
}

/// The JSON lines one request logs.
async fn lines_of(
    h: &WebhookHandler<FakeForwarder>,
    request: &ApiGatewayV2httpRequest,
) -> Vec<Value> {
    let out = Captured::default();
    let writer = out.clone();
    let guard = tracing::subscriber::set_default(subscriber(
        LogFormat::Json,
        stripe_events_lambda::at_level(tracing::Level::INFO),
        move || writer.clone(),
    ));
    h.process(request, Timestamp::now().unix_seconds(), None)
        .await;
    drop(guard);
    let bytes = out.0.lock().expect("lock").clone();
    String::from_utf8(bytes)
        .expect("UTF-8 lines")
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

/// The one line of a request, with the shared fields checked.
async fn line_of(h: &WebhookHandler<FakeForwarder>, request: &ApiGatewayV2httpRequest) -> Value {
    let lines = lines_of(h, request).await;
    assert_eq!(lines.len(), 1, "one line per request: {lines:?}");
    let line = lines.into_iter().next().expect("one line");
    for field in ["event_id", "event_type", "path", "outcome", "detail"] {
        assert!(line[field].is_string(), "{field} missing: {line}");
    }
    assert_eq!(line["path"], "webhook", "{line}");
    line
}

/// The named string fields of a line (`None` where a field is not a string).
fn fields<'a>(line: &'a Value, names: &[&str]) -> Vec<Option<&'a str>> {
    names.iter().map(|n| line[*n].as_str()).collect()
}

const EVENT: [&str; 4] = ["event_id", "event_type", "outcome", "level"];

#[tokio::test]
async fn every_line_names_the_event_path_and_outcome() {
    let now = Timestamp::now().unix_seconds();
    let event = |id: &str, object: Value| snapshot_event(id, "invoice.paid", object).to_string();

    // Forwarded.
    let body = event("evt_log_ok", json!({"id": "in_1", "object": "invoice"}));
    let line = line_of(&handler(None), &signed(&body, now)).await;
    let want = ["evt_log_ok", "invoice.paid", "forwarded", "INFO"].map(Some);
    assert_eq!(fields(&line, &EVENT), want, "{line}");

    // Oversized: the reference's warning is the request's line, with its outcome.
    let memo = "m".repeat(MAX_ENTRY_BYTES);
    let body = event(
        "evt_log_big",
        json!({"id": "in_2", "object": "invoice", "memo": memo}),
    );
    let line = line_of(&handler(None), &signed(&body, now)).await;
    let want = ["evt_log_big", "invoice.paid", "forwarded", "WARN"].map(Some);
    assert_eq!(fields(&line, &EVENT), want, "{line}");
    assert_eq!(line["forwarded_as"], "reference", "{line}");

    // Signed, not readable as an event, but its id and type are there to read.
    let body = json!({"id": "evt_log_bad", "object": "event", "type": "invoice.paid",
        "created": "yesterday", "data": {"object": {"id": "in_3", "object": "invoice"}}})
    .to_string();
    let line = line_of(&handler(None), &signed(&body, now)).await;
    let want = ["evt_log_bad", "invoice.paid", "rejected", "WARN"].map(Some);
    assert_eq!(fields(&line, &EVENT), want, "{line}");

    // Not forwarded: the error is the detail.
    let failing = handler(Some(ForwardError::Call("dispatch failure".into())));
    let body = event("evt_log_fail", json!({"id": "in_4", "object": "invoice"}));
    let line = line_of(&failing, &signed(&body, now)).await;
    let want = ["evt_log_fail", "invoice.paid", "forward_failed", "ERROR"].map(Some);
    assert_eq!(fields(&line, &EVENT), want, "{line}");
    let detail = line["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("dispatch failure"), "{line}");

    // Not verified: nothing is read from the body, the line keeps its shape.
    let mut forged = signed(&body, now);
    let zeros = format!("t={now},v1={}", "0".repeat(64));
    forged
        .headers
        .insert("stripe-signature", zeros.parse().expect("header value"));
    let line = line_of(&handler(None), &forged).await;
    let want = ["", "", "rejected", "WARN"].map(Some);
    assert_eq!(fields(&line, &EVENT), want, "{line}");
    assert_eq!(line["reason"], "signature_mismatch", "{line}");

    // Off the route: the HTTP path is `request_path`; `path` stays the delivery path.
    let mut off_route = signed(&body, now);
    off_route.raw_path = Some("/elsewhere".into());
    off_route.request_context.http.path = Some("/elsewhere".into());
    let line = line_of(&handler(None), &off_route).await;
    let want = ["/elsewhere", "wrong_route", "no such route"].map(Some);
    assert_eq!(
        fields(&line, &["request_path", "reason", "detail"]),
        want,
        "{line}"
    );
}

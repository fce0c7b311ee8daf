//! The webhook at the edges of what it can trust: signed v2 events that name no object, the
//! HTTP method, path and API Gateway stage, and an EventBridge that accepts connections but never answers. In
//! process, no local stack: a recording forwarder, the real forwarder against a local TCP
//! server that never answers, and the rule files Terraform deploys.

use std::time::{Duration, Instant};

use hmac::{Hmac, KeyInit, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use stripe_events_core::rules::RuleSet;
use stripe_events_core::Timestamp;
use stripe_events_testkit::fixtures::repo_root;
use stripe_events_testkit::stack::*;
use stripe_events_testkit::webhook::*;
use stripe_events_webhook::{
    ApiGatewayV2httpRequest, EventBridgeForwarder, Forwarder, Outcome, SecretStore, WebhookHandler,
    WebhookSecrets,
};

const SECRET: &str = "whsec_test_trust_boundaries_0a1b2c3d4e5f";

fn sign(body: &str, t: i64) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).expect("any key length");
    mac.update(format!("{t}.{body}").as_bytes());
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

fn handler_with<F: Forwarder>(forwarder: F) -> WebhookHandler<F> {
    WebhookHandler::new(
        SecretStore::fixed(WebhookSecrets::parse(SECRET).expect("secret")),
        300,
        forwarder,
    )
}

fn signed_request(body: &str, method: &str, path: &str) -> ApiGatewayV2httpRequest {
    staged_request(body, method, path, "$default")
}

/// A signed payload 2.0 request on API Gateway stage `stage` (`rawPath` carries a named
/// stage's `/{stage}` prefix).
fn staged_request(body: &str, method: &str, path: &str, stage: &str) -> ApiGatewayV2httpRequest {
    let now = Timestamp::now().unix_seconds();
    let mut request = http_api_json(body, false, &[("stripe-signature", &sign(body, now))]);
    request["rawPath"] = json!(path);
    request["requestContext"]["stage"] = json!(stage);
    request["requestContext"]["http"] = json!({"method": method, "path": path});
    v2_request(request)
}

fn objectless(event_type: &str, id: &str) -> String {
    json!({"id": id, "object": "v2.core.event", "type": event_type,
           "created": "2026-03-07T18:27:56.000Z", "livemode": false, "context": null,
           "reason": {"type": "request", "request": {"id": "req_1", "idempotency_key": null}}})
    .to_string()
}

#[tokio::test]
async fn signed_v2_events_without_an_object_are_accepted_and_reach_no_family() {
    let h = handler_with(FakeForwarder::default());
    let rules = RuleSet::load(&repo_root().join("infra/rules")).expect("rule files");
    let now = Timestamp::now().unix_seconds();
    for (i, event_type) in [
        "v2.core.event_destination.ping",
        "v1.billing.meter.error_report_triggered",
        "v2.billing.cadence.billed",
    ]
    .into_iter()
    .enumerate()
    {
        let body = objectless(event_type, &format!("evt_test_objectless_{i}"));
        let outcome = h
            .process(&signed_request(&body, "POST", "/stripe/webhook"), now, None)
            .await;
        assert!(
            matches!(outcome, Outcome::Forwarded { .. }),
            "{event_type}: {outcome:?}"
        );
        assert_eq!(outcome.response().status_code, 200, "{event_type}");
        // On the bus, as EventBridge would present it to the rules: no family rule matches.
        let entries = h.forwarder().entries.lock().expect("lock").clone();
        let entry = entries.last().expect("forwarded");
        let detail: Value = serde_json::from_str(&entry.detail).expect("detail JSON");
        let on_bus =
            json!({"source": entry.source, "detail-type": entry.detail_type, "detail": detail});
        let matched = rules.matching(&on_bus).expect("implemented operators");
        assert!(matched.is_empty(), "{event_type} matched {}", matched.len());
    }
    assert_eq!(h.forwarder().entries.lock().expect("lock").len(), 3);
}

#[tokio::test]
async fn only_post_on_the_webhook_route_is_served() {
    let h = handler_with(FakeForwarder::default());
    let now = Timestamp::now().unix_seconds();
    let body = json!({"id": "evt_route", "object": "event", "type": "invoice.paid",
        "created": now, "livemode": false,
        "data": {"object": {"id": "in_1", "object": "invoice"}}})
    .to_string();
    for (method, path, status, reason) in [
        ("GET", "/stripe/webhook", 405, "wrong_method"),
        ("PUT", "/stripe/webhook", 405, "wrong_method"),
        ("POST", "/anything/else", 404, "wrong_route"),
        ("GET", "/anything/else", 404, "wrong_route"),
        ("POST", "/stripe/webhook/extra", 404, "wrong_route"),
    ] {
        let outcome = h
            .process(&signed_request(&body, method, path), now, None)
            .await;
        assert_eq!(outcome.response().status_code, status, "{method} {path}");
        assert_eq!(outcome.reason(), reason, "{method} {path}");
    }
    assert!(
        h.forwarder().entries.lock().expect("lock").is_empty(),
        "a validly signed body off the route is never forwarded"
    );
    let custom = handler_with(FakeForwarder::default()).with_route("/hooks/stripe");
    let outcome = custom
        .process(&signed_request(&body, "POST", "/hooks/stripe"), now, None)
        .await;
    assert_eq!(outcome.response().status_code, 200);
    let outcome = custom
        .process(&signed_request(&body, "POST", "/stripe/webhook"), now, None)
        .await;
    assert_eq!(outcome.response().status_code, 404);
}

#[tokio::test]
async fn a_named_stage_prefix_is_stripped_and_default_has_none() {
    let h = handler_with(FakeForwarder::default());
    let now = Timestamp::now().unix_seconds();
    let body = objectless("v2.core.event_destination.ping", "evt_test_staged");
    for (method, path, stage, status, reason) in [
        ("POST", "/prod/stripe/webhook", "prod", 200, "forwarded"),
        ("GET", "/prod/stripe/webhook", "prod", 405, "wrong_method"),
        ("POST", "/dev/stripe/webhook", "prod", 404, "wrong_route"),
        (
            "POST",
            "/$default/stripe/webhook",
            "$default",
            404,
            "wrong_route",
        ),
        ("POST", "/stripe/webhook", "$default", 200, "forwarded"),
    ] {
        let outcome = h
            .process(&staged_request(&body, method, path, stage), now, None)
            .await;
        let response = outcome.response();
        assert_eq!(response.status_code, status, "{stage}: {method} {path}");
        assert_eq!(outcome.reason(), reason, "{stage}: {method} {path}");
    }
    let entries = h.forwarder().entries.lock().expect("lock");
    assert_eq!(
        entries.len(),
        2,
        "the two requests on the route were forwarded"
    );
    for entry in entries.iter() {
        let detail: Value = serde_json::from_str(&entry.detail).expect("JSON detail");
        assert_eq!(detail["id"], "evt_test_staged");
    }
}

#[tokio::test]
async fn an_eventbridge_that_never_answers_gives_a_500_before_the_deadline() {
    // An SDK config without timeouts of its own: only the invocation deadline ends the wait.
    let eb = aws_sdk_eventbridge::Client::new(&sdk_config_at(&black_hole().await).await);
    let h = handler_with(EventBridgeForwarder::new(eb, "bus"));
    let now = Timestamp::now().unix_seconds();
    let body = objectless("v2.core.event_destination.ping", "evt_test_black_hole");
    let started = Instant::now();
    let outcome = h
        .process_until(
            &signed_request(&body, "POST", "/stripe/webhook"),
            now,
            None,
            started + Duration::from_millis(1500),
        )
        .await;
    let took = started.elapsed();
    assert_eq!(outcome.reason(), "put_events_timeout", "{outcome:?}");
    assert_eq!(outcome.response().status_code, 500, "Stripe retries");
    assert!(took < Duration::from_secs(10), "took {took:?}");
}

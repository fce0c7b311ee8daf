//! The hydrator's own log lines about a fetch name the event they concern, as the consumer's
//! line does (`event_id`, `event_type`, `path` = the delivery path), the API path as
//! `api_path`, and the attempt's `outcome` in the consumer's words (`retrying` when another
//! attempt follows). Needs no local stack.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use stripe_events_core::hydrate::{HydrateError, Hydrator};
use stripe_events_core::Delivery;
use stripe_events_stripe::StripeHydrator;
use stripe_events_testkit::events::*;
use stripe_events_testkit::logs::json_lines_of;
use stripe_events_testkit::stripe::*;

/// The lines with this message, each checked to carry the event's fields.
fn lines_about<'a>(lines: &'a [Value], message: &str, d: &Delivery<'_>) -> Vec<&'a Value> {
    let found: Vec<&Value> = lines
        .iter()
        .filter(|l| {
            l["message"]
                .as_str()
                .is_some_and(|m| m.starts_with(message))
        })
        .collect();
    for line in &found {
        assert_eq!(line["event_id"], d.event_id.as_str(), "{line}");
        assert_eq!(line["event_type"], d.event_type.as_str(), "{line}");
        assert_eq!(line["path"], d.path.name(), "the delivery path: {line}");
        assert!(
            line["api_path"]
                .as_str()
                .is_some_and(|p| p.starts_with("/v1/")),
            "{line}"
        );
    }
    found
}

fn outcomes(lines: &[&Value]) -> Vec<String> {
    lines
        .iter()
        .map(|l| l["outcome"].as_str().unwrap_or("(none)").to_owned())
        .collect()
}

fn customer_delivery(id: &str) -> Delivery<'static> {
    delivery(thin_reference("customer.updated", "customer", id))
}

async fn fetch_logged(
    h: &StripeHydrator,
    d: &Delivery<'_>,
    deadline: Instant,
) -> (HydrateError, Vec<Value>) {
    let (result, lines) = json_lines_of(tracing::Level::INFO, h.fetch(d, deadline)).await;
    (result.unwrap_err(), lines)
}

fn soon() -> Instant {
    Instant::now() + Duration::from_secs(10)
}

#[tokio::test]
async fn error_responses_name_the_event_and_each_attempts_outcome() {
    let server = FakeStripe::start(vec![Reply::stripe_error(500, "api_error", "boom")]).await;
    let h = hydrator(&server.base, "sk_test_fake", fast_policy());
    let d = customer_delivery("cus_log500");
    let (err, lines) = fetch_logged(&h, &d, soon()).await;
    assert!(matches!(err, HydrateError::Transient(_)), "{err:?}");
    let found = lines_about(&lines, "Stripe error response", &d);
    assert_eq!(
        outcomes(&found),
        ["retrying", "retrying", "failed_transient"]
    );
    assert_eq!(found[0]["api_path"], "/v1/customers/cus_log500");
    assert_eq!(found[0]["path"], "partner");
    assert_eq!(found[2]["attempt"], 3);
}

#[tokio::test]
async fn a_permanent_error_response_says_failed_permanent() {
    let server = FakeStripe::start(vec![Reply::stripe_error(
        400,
        "invalid_request_error",
        "Bad",
    )])
    .await;
    let h = hydrator(&server.base, "sk_test_fake", fast_policy());
    let d = customer_delivery("cus_log400");
    let (err, lines) = fetch_logged(&h, &d, soon()).await;
    assert!(matches!(err, HydrateError::Permanent(_)), "{err:?}");
    let found = lines_about(&lines, "Stripe error response", &d);
    assert_eq!(outcomes(&found), ["failed_permanent"]);
}

#[tokio::test]
async fn a_rejected_key_names_the_event() {
    let server = FakeStripe::start(vec![Reply::stripe_error(
        401,
        "invalid_request_error",
        "Invalid API Key provided",
    )])
    .await;
    let h = hydrator(&server.base, "sk_test_fake", fast_policy());
    let d = delivery(thin_v2(
        "v1.customer.updated",
        "customer",
        "cus_log401",
        Some("/v1/customers/cus_log401"),
        None,
    ));
    let (err, lines) = fetch_logged(&h, &d, soon()).await;
    assert!(matches!(err, HydrateError::Transient(_)), "{err:?}");
    let found = lines_about(&lines, "Stripe rejected the API key", &d);
    assert_eq!(outcomes(&found), ["failed_transient"]);
    assert_eq!(found[0]["status"], 401);
    assert_eq!(found[0]["level"], "ERROR");
}

#[tokio::test]
async fn transport_failures_name_the_event() {
    let h = hydrator(&closed_port_base(), "sk_test_fake", fast_policy());
    let d = customer_delivery("cus_logclosed");
    let (err, lines) = fetch_logged(&h, &d, soon()).await;
    assert!(matches!(err, HydrateError::Transient(_)), "{err:?}");
    let found = lines_about(&lines, "Stripe request failed", &d);
    assert_eq!(
        outcomes(&found),
        ["retrying", "retrying", "failed_transient"]
    );
}

#[tokio::test]
async fn no_time_left_names_the_event() {
    let server = FakeStripe::start(vec![Reply::stripe_error(500, "api_error", "boom")]).await;
    let mut policy = fast_policy();
    policy.initial_backoff = Duration::from_secs(2);
    policy.max_backoff = Duration::from_secs(2);
    let h = hydrator(&server.base, "sk_test_fake", policy);
    let d = customer_delivery("cus_logdeadline");
    let deadline = Instant::now() + Duration::from_millis(800);
    let (err, lines) = fetch_logged(&h, &d, deadline).await;
    assert!(matches!(err, HydrateError::Transient(_)), "{err:?}");
    assert_eq!(h.calls(), 1);
    let response = lines_about(&lines, "Stripe error response", &d);
    assert_eq!(outcomes(&response), ["failed_transient"]);
    let stop = lines_about(&lines, "no time left", &d);
    assert_eq!(outcomes(&stop), ["failed_transient"]);
}

#[tokio::test]
async fn no_line_uses_path_for_the_api_path() {
    let server = FakeStripe::start(vec![
        Reply::stripe_error(503, "api_error", "down"),
        Reply::json(200, json!({"id": "cus_logok", "object": "customer"})),
    ])
    .await;
    let h = hydrator(&server.base, "sk_test_fake", fast_policy());
    let d = customer_delivery("cus_logok");
    let (result, lines) = json_lines_of(tracing::Level::INFO, h.fetch(&d, soon())).await;
    assert!(result.is_ok());
    assert!(!lines.is_empty());
    for line in &lines {
        let path = line["path"].as_str().unwrap_or("");
        assert!(!path.starts_with('/'), "{line}");
    }
}

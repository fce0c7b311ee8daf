//! The hydrator against a scripted local HTTP server: headers actually sent, the retry rules,
//! the deadline, the call counter, and event-supplied paths. Needs no local stack.

use std::time::{Duration, Instant};

use serde_json::json;
use stripe_events_core::hydrate::{HydrateError, Hydrator};
use stripe_events_core::Timestamp;
use stripe_events_testkit::events::*;
use stripe_events_testkit::stripe::*;

fn sub(id: &str) -> serde_json::Value {
    json!({"id": id, "object": "subscription", "customer": "cus_1", "status": "active"})
}

fn soon() -> Instant {
    Instant::now() + Duration::from_secs(10)
}

#[tokio::test]
async fn thin_v2_sends_stripe_context_and_key_and_counts_one_call() {
    let server = FakeStripe::start(vec![Reply::json(200, sub("sub_ctx"))]).await;
    let h = hydrator(&server.base, "sk_test_fake_key", fast_policy());
    let d = delivery(thin_v2(
        "v1.customer.subscription.updated",
        "subscription",
        "sub_ctx",
        Some("/v1/subscriptions/sub_ctx"),
        Some("acct_1Connected"),
    ));
    assert_eq!(d.stripe_context.as_deref(), Some("acct_1Connected"));
    let before = Timestamp::now();
    let fetched = h.fetch(&d, soon()).await.unwrap();
    let after = Timestamp::now();
    assert_eq!(fetched.json()["id"], "sub_ctx");
    assert!(before <= fetched.fetched_at && fetched.fetched_at <= after);
    assert_eq!(h.calls(), 1);

    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    assert_eq!(r.method, "GET");
    assert_eq!(r.target, "/v1/subscriptions/sub_ctx");
    assert_eq!(r.header("stripe-context"), Some("acct_1Connected"));
    assert_eq!(r.header("authorization"), Some("Bearer sk_test_fake_key"));
    // No pinned version by default: the account's own version, like its snapshot events.
    assert_eq!(r.header("stripe-version"), None);
}

#[tokio::test]
async fn no_stripe_context_header_without_context_and_pinned_version_is_sent() {
    let server = FakeStripe::start(vec![Reply::json(200, sub("sub_noctx"))]).await;
    let mut config = stripe_events_stripe::StripeConfig::new(
        &server.base,
        stripe_events_stripe::ApiKey::new("sk_test_fake").unwrap(),
    )
    .unwrap();
    config.api_version = Some("2024-09-30.acacia".into());
    let h = stripe_events_stripe::StripeHydrator::new(config).unwrap();
    let d = delivery(thin_v2(
        "v1.customer.subscription.updated",
        "subscription",
        "sub_noctx",
        Some("/v1/subscriptions/sub_noctx"),
        None,
    ));
    h.fetch(&d, soon()).await.unwrap();
    let r = &server.requests()[0];
    assert_eq!(r.header("stripe-context"), None);
    assert_eq!(r.header("stripe-version"), Some("2024-09-30.acacia"));
}

#[tokio::test]
async fn thin_reference_and_thin_without_url_use_the_v1_path() {
    let server = FakeStripe::start(vec![Reply::json(
        200,
        json!({"id": "in_1", "object": "invoice"}),
    )])
    .await;
    let h = hydrator(&server.base, "sk_test_fake", fast_policy());
    h.fetch(
        &delivery(thin_reference("invoice.paid", "invoice", "in_1")),
        soon(),
    )
    .await
    .unwrap();
    h.fetch(
        &delivery(thin_v2("v1.invoice.paid", "invoice", "in_1", None, None)),
        soon(),
    )
    .await
    .unwrap();
    let targets: Vec<String> = server.requests().into_iter().map(|r| r.target).collect();
    assert_eq!(targets, ["/v1/invoices/in_1", "/v1/invoices/in_1"]);
    assert_eq!(h.calls(), 2);
}

#[tokio::test]
async fn rate_limited_with_should_retry_false_is_not_retried() {
    let server = FakeStripe::start(vec![
        Reply::stripe_error(429, "rate_limit_error", "Too many requests")
            .header("Stripe-Should-Retry", "false"),
        Reply::json(200, sub("sub_429")),
    ])
    .await;
    let h = hydrator(&server.base, "sk_test_fake", fast_policy());
    let d = delivery(thin_reference(
        "customer.subscription.updated",
        "subscription",
        "sub_429",
    ));
    let err = h.fetch(&d, soon()).await.unwrap_err();
    assert!(
        matches!(&err, HydrateError::Transient(m) if m.contains("429")),
        "{err:?}"
    );
    assert_eq!(h.calls(), 1);
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn rate_limited_with_should_retry_true_is_retried() {
    let server = FakeStripe::start(vec![
        Reply::stripe_error(429, "rate_limit_error", "Too many requests")
            .header("Stripe-Should-Retry", "true"),
        Reply::json(200, sub("sub_429t")),
    ])
    .await;
    let h = hydrator(&server.base, "sk_test_fake", fast_policy());
    let d = delivery(thin_reference(
        "customer.subscription.updated",
        "subscription",
        "sub_429t",
    ));
    let fetched = h.fetch(&d, soon()).await.unwrap();
    assert_eq!(fetched.json()["id"], "sub_429t");
    assert_eq!(h.calls(), 2);
}

#[tokio::test]
async fn rate_limited_without_header_is_retried_until_attempts_run_out() {
    let server = FakeStripe::start(vec![Reply::stripe_error(
        429,
        "rate_limit_error",
        "Too many requests",
    )])
    .await;
    let h = hydrator(&server.base, "sk_test_fake", fast_policy());
    let d = delivery(thin_reference("customer.updated", "customer", "cus_429"));
    let err = h.fetch(&d, soon()).await.unwrap_err();
    assert!(matches!(err, HydrateError::Transient(_)), "{err:?}");
    assert_eq!(h.calls(), 3, "max_attempts = 3");
}

#[tokio::test]
async fn a_retry_after_longer_than_the_backoff_cap_ends_the_retries() {
    let server = FakeStripe::start(vec![
        Reply::stripe_error(429, "rate_limit_error", "Too many requests")
            .header("Retry-After", "10"),
        Reply::json(200, sub("sub_later")),
    ])
    .await;
    let h = hydrator(&server.base, "sk_test_fake", fast_policy());
    let d = delivery(thin_reference(
        "customer.subscription.updated",
        "subscription",
        "sub_later",
    ));
    let err = h.fetch(&d, soon()).await.unwrap_err();
    assert!(matches!(err, HydrateError::Transient(_)), "{err:?}");
    assert_eq!(h.calls(), 1, "not called again before Stripe said");
}

#[tokio::test]
async fn a_body_over_the_limit_is_permanent_and_fetched_once() {
    let mut huge = Reply::json(200, json!(null));
    huge.body = format!(
        "{{\"id\": \"sub_huge\", \"object\": \"subscription\", \"pad\": \"{}\"}}",
        "x".repeat(9 * 1024 * 1024)
    );
    let server = FakeStripe::start(vec![huge]).await;
    let h = hydrator(&server.base, "sk_test_fake", fast_policy());
    let d = delivery(thin_reference(
        "customer.subscription.updated",
        "subscription",
        "sub_huge",
    ));
    let err = h.fetch(&d, soon()).await.unwrap_err();
    assert!(matches!(err, HydrateError::Permanent(_)), "{err:?}");
    assert_eq!(h.calls(), 1);
    assert_eq!(server.requests().len(), 1);
    // An error page that large (a proxy's) stays transient and is retried.
    let mut page = Reply::json(503, json!(null));
    page.body = "x".repeat(9 * 1024 * 1024);
    let server = FakeStripe::start(vec![page]).await;
    let h = hydrator(&server.base, "sk_test_fake", fast_policy());
    let err = h.fetch(&d, soon()).await.unwrap_err();
    assert!(matches!(err, HydrateError::Transient(_)), "{err:?}");
    assert_eq!(h.calls(), 3);
}

#[tokio::test]
async fn server_error_then_success_is_one_retry() {
    let server = FakeStripe::start(vec![
        Reply::stripe_error(500, "api_error", "boom"),
        Reply::json(200, sub("sub_500")),
    ])
    .await;
    let h = hydrator(&server.base, "sk_test_fake", fast_policy());
    let d = delivery(thin_v2(
        "v1.customer.subscription.updated",
        "subscription",
        "sub_500",
        Some("/v1/subscriptions/sub_500"),
        None,
    ));
    let fetched = h.fetch(&d, soon()).await.unwrap();
    assert_eq!(fetched.json()["id"], "sub_500");
    assert_eq!(h.calls(), 2);
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn server_error_with_should_retry_false_is_transient_without_retry() {
    let server = FakeStripe::start(vec![
        Reply::stripe_error(503, "api_error", "down").header("Stripe-Should-Retry", "false"),
        Reply::json(200, sub("sub_503")),
    ])
    .await;
    let h = hydrator(&server.base, "sk_test_fake", fast_policy());
    let d = delivery(thin_reference(
        "customer.subscription.updated",
        "subscription",
        "sub_503",
    ));
    let err = h.fetch(&d, soon()).await.unwrap_err();
    assert!(matches!(err, HydrateError::Transient(_)), "{err:?}");
    assert_eq!(h.calls(), 1);
}

#[tokio::test]
async fn non_json_gateway_error_keeps_its_status_and_is_retried() {
    let mut html = Reply::json(502, json!(null));
    html.body = "<html>Bad Gateway</html>".into();
    let server = FakeStripe::start(vec![html, Reply::json(200, sub("sub_502"))]).await;
    let h = hydrator(&server.base, "sk_test_fake", fast_policy());
    let d = delivery(thin_reference(
        "customer.subscription.updated",
        "subscription",
        "sub_502",
    ));
    h.fetch(&d, soon()).await.unwrap();
    assert_eq!(h.calls(), 2);
}

#[tokio::test]
async fn unauthorized_and_forbidden_are_transient_not_retried_and_never_show_the_key() {
    for status in [401u16, 403] {
        // A server that echoes the key back must not get it into our error text.
        let server = FakeStripe::start(vec![Reply::stripe_error(
            status,
            "invalid_request_error",
            "Invalid API Key provided: sk_test_secret_value_123",
        )])
        .await;
        let h = hydrator(&server.base, "sk_test_secret_value_123", fast_policy());
        let d = delivery(thin_reference("customer.updated", "customer", "cus_auth"));
        let err = h.fetch(&d, soon()).await.unwrap_err();
        assert!(matches!(&err, HydrateError::Transient(_)), "{err:?}");
        let shown = format!("{err} {err:?} {h:?}");
        assert!(!shown.contains("secret_value_123"), "{shown}");
        assert!(shown.contains("sk_…redacted"), "{shown}");
        assert_eq!(h.calls(), 1, "status {status}");
    }
}

#[tokio::test]
async fn not_found_and_bad_request() {
    let server = FakeStripe::start(vec![
        Reply::stripe_error(404, "invalid_request_error", "No such subscription"),
        Reply::stripe_error(400, "invalid_request_error", "Bad"),
    ])
    .await;
    let h = hydrator(&server.base, "sk_test_fake", fast_policy());
    let d = delivery(thin_reference(
        "customer.subscription.updated",
        "subscription",
        "sub_gone",
    ));
    let err = h.fetch(&d, soon()).await.unwrap_err();
    assert!(
        matches!(&err, HydrateError::NotFound(m) if m.contains("No such subscription")),
        "{err:?}"
    );
    let err = h.fetch(&d, soon()).await.unwrap_err();
    assert!(matches!(err, HydrateError::Permanent(_)), "{err:?}");
    assert_eq!(h.calls(), 2, "neither is retried");
}

#[tokio::test]
async fn backoff_never_sleeps_past_the_deadline() {
    let server =
        FakeStripe::start(vec![Reply::stripe_error(500, "api_error", "always down")]).await;
    let mut policy = fast_policy();
    policy.max_attempts = 100;
    policy.initial_backoff = Duration::from_millis(200);
    policy.max_backoff = Duration::from_millis(400);
    let h = hydrator(&server.base, "sk_test_fake", policy);
    let d = delivery(thin_reference(
        "customer.updated",
        "customer",
        "cus_deadline",
    ));
    let start = Instant::now();
    let deadline = start + Duration::from_millis(700);
    let err = h.fetch(&d, deadline).await.unwrap_err();
    let done = Instant::now();
    assert!(matches!(err, HydrateError::Transient(_)), "{err:?}");
    assert!(
        done <= deadline + Duration::from_millis(50),
        "returned {:?} after the deadline",
        done - deadline
    );
    assert!(h.calls() >= 2, "it did retry within the budget");
    assert!(h.calls() < 10);
}

#[tokio::test]
async fn a_slow_response_is_cut_at_the_deadline() {
    let server = FakeStripe::start(vec![
        Reply::json(200, sub("sub_slow")).delayed(Duration::from_secs(5))
    ])
    .await;
    let h = hydrator(&server.base, "sk_test_fake", fast_policy());
    let d = delivery(thin_reference(
        "customer.subscription.updated",
        "subscription",
        "sub_slow",
    ));
    let start = Instant::now();
    let err = h
        .fetch(&d, start + Duration::from_millis(300))
        .await
        .unwrap_err();
    let elapsed = start.elapsed();
    assert!(matches!(err, HydrateError::Transient(_)), "{err:?}");
    assert!(elapsed < Duration::from_millis(450), "{elapsed:?}");
}

#[tokio::test]
async fn a_passed_deadline_sends_nothing() {
    let server = FakeStripe::start(vec![Reply::json(200, sub("sub_late"))]).await;
    let h = hydrator(&server.base, "sk_test_fake", fast_policy());
    let d = delivery(thin_reference(
        "customer.subscription.updated",
        "subscription",
        "sub_late",
    ));
    let err = h.fetch(&d, Instant::now()).await.unwrap_err();
    assert!(matches!(err, HydrateError::Transient(_)), "{err:?}");
    assert_eq!(h.calls(), 0);
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn nothing_listening_is_transient_and_sends_nothing() {
    let h = hydrator(&closed_port_base(), "sk_test_fake", fast_policy());
    let d = delivery(thin_reference("customer.updated", "customer", "cus_closed"));
    let err = h
        .fetch(&d, Instant::now() + Duration::from_secs(3))
        .await
        .unwrap_err();
    assert!(matches!(err, HydrateError::Transient(_)), "{err:?}");
    assert_eq!(
        h.calls(),
        0,
        "connection refused: no request reached Stripe"
    );
}

#[tokio::test]
async fn unknown_object_type_and_foreign_urls_are_permanent_without_a_call() {
    let server = FakeStripe::start(vec![Reply::json(200, sub("sub_x"))]).await;
    let h = hydrator(&server.base, "sk_test_fake", fast_policy());
    let cases = [
        delivery(thin_reference("widget.updated", "widget", "wid_1")),
        delivery(thin_v2("v1.widget.updated", "widget", "wid_1", None, None)),
        delivery(thin_v2(
            "v1.customer.updated",
            "customer",
            "cus_1",
            Some("https://evil.example/v1/customers/cus_1"),
            None,
        )),
        delivery(thin_v2(
            "v1.customer.updated",
            "customer",
            "cus_1",
            Some("/v1/../../admin"),
            None,
        )),
        delivery(thin_reference(
            "customer.updated",
            "customer",
            "cus_1/../../x",
        )),
    ];
    for d in &cases {
        let err = h.fetch(d, soon()).await.unwrap_err();
        assert!(matches!(err, HydrateError::Permanent(_)), "{d:?}: {err:?}");
    }
    assert_eq!(h.calls(), 0);
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn list_events_pages_and_splits_types() {
    let ev = |id: &str, created: i64| json!({"id": id, "object": "event", "created": created});
    let server = FakeStripe::start(vec![
        // First listing (20 types): two pages, newest first.
        Reply::json(
            200,
            json!({"object": "list", "has_more": true, "data": [ev("evt_4", 40), ev("evt_3", 30)]}),
        ),
        Reply::json(
            200,
            json!({"object": "list", "has_more": false, "data": [ev("evt_1", 10)]}),
        ),
        // Second listing (the 21st type, sent as `type=`).
        Reply::json(
            200,
            json!({"object": "list", "has_more": false, "data": [ev("evt_2", 20)]}),
        ),
    ])
    .await;
    let h = hydrator(&server.base, "sk_test_fake", fast_policy());
    let types: Vec<String> = (0..21).map(|i| format!("type.number_{i}")).collect();
    let events = h
        .list_events(Timestamp::from_unix_seconds(5), &types)
        .await
        .unwrap();
    let ids: Vec<&str> = events.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["evt_1", "evt_2", "evt_3", "evt_4"], "oldest first");
    assert_eq!(h.calls(), 3);

    // async-stripe's `ListEvent` query: its field order, `types[i]` indexed.
    let targets: Vec<String> = server.requests().into_iter().map(|r| r.target).collect();
    assert!(
        targets[0].starts_with("/v1/events?created[gte]=5&limit=100&types[0]=type.number_0&"),
        "{}",
        targets[0]
    );
    assert_eq!(targets[0].matches("&types[").count(), 20);
    assert!(!targets[0].contains("starting_after"));
    assert!(
        targets[1]
            .starts_with("/v1/events?created[gte]=5&limit=100&starting_after=evt_3&types[0]="),
        "{}",
        targets[1]
    );
    assert!(targets[1].ends_with("&types[19]=type.number_19"));
    assert_eq!(
        targets[2],
        "/v1/events?created[gte]=5&limit=100&type=type.number_20"
    );
}

#[tokio::test]
async fn list_events_refuses_a_stalled_pagination() {
    let server = FakeStripe::start(vec![Reply::json(
        200,
        json!({"object": "list", "has_more": true, "data": []}),
    )])
    .await;
    let h = hydrator(&server.base, "sk_test_fake", fast_policy());
    let err = h
        .list_events(Timestamp::from_unix_seconds(0), &[])
        .await
        .unwrap_err();
    assert!(matches!(err, HydrateError::Permanent(_)), "{err:?}");
    assert_eq!(
        server.requests()[0].target,
        "/v1/events?created[gte]=0&limit=100"
    );
}

/// async-stripe's `.send()` through the hydrator's `StripeClient`: the retry loop (a 503 then
/// the answer), the key, `Stripe-Context`, the call counter, the builder's target.
#[tokio::test]
async fn async_stripe_send_goes_through_the_hydrator_transport() {
    let empty_list = json!({"object": "list", "data": [], "has_more": false, "url": "/v1/events"});
    let server = FakeStripe::start(vec![
        Reply::stripe_error(503, "api_error", "try again"),
        Reply::json(200, empty_list),
    ])
    .await;
    let h = hydrator(&server.base, "sk_test_fake_key", fast_policy());
    let list = stripe_core::event::ListEvent::new()
        .created(stripe_types::RangeQueryTs::gte(5))
        .limit(100)
        .type_("customer.created")
        .send(&h.client(soon()).stripe_context("acct_1Connected"))
        .await
        .unwrap();
    assert!(list.data.is_empty() && !list.has_more);
    assert_eq!(h.calls(), 2);
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    for r in &requests {
        assert_eq!(r.method, "GET");
        assert_eq!(
            r.target,
            "/v1/events?created[gte]=5&limit=100&type=customer.created"
        );
        assert_eq!(r.header("authorization"), Some("Bearer sk_test_fake_key"));
        assert_eq!(r.header("stripe-context"), Some("acct_1Connected"));
        assert_eq!(r.header("stripe-account"), None);
    }
}

#[tokio::test]
async fn async_stripe_send_errors_overrides_and_reads_only() {
    use stripe_client_core::StripeRequest;
    use stripe_events_stripe::ClientError;

    let server = FakeStripe::start(vec![
        Reply::stripe_error(404, "invalid_request_error", "No such customer"),
        // Not a whole customer: async-stripe's own deserializer refuses it.
        Reply::json(200, json!({"id": "cus_1", "object": "customer"})),
    ])
    .await;
    let h = hydrator(&server.base, "sk_test_fake", fast_policy());
    let missing = stripe_core::customer::RetrieveCustomer::new("cus_missing")
        .customize()
        .account_id("acct_1Other".into())
        .send(&h)
        .await
        .unwrap_err();
    assert!(
        matches!(&missing, ClientError::Api(HydrateError::NotFound(m)) if m.contains("No such customer")),
        "{missing:?}"
    );
    let partial = stripe_core::customer::RetrieveCustomer::new("cus_1")
        .send(&h.client(soon()))
        .await
        .unwrap_err();
    assert!(
        matches!(partial, ClientError::Deserialize(_)),
        "{partial:?}"
    );
    // A write is refused before anything is sent.
    let write = stripe_core::customer::CreateCustomer::new()
        .send(&h)
        .await
        .unwrap_err();
    assert!(
        matches!(&write, ClientError::Api(HydrateError::Permanent(m)) if m.contains("only sends GET")),
        "{write:?}"
    );
    assert_eq!(h.calls(), 2);
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].target, "/v1/customers/cus_missing");
    assert_eq!(requests[0].header("stripe-account"), Some("acct_1Other"));
    assert_eq!(requests[1].target, "/v1/customers/cus_1");
    assert_eq!(requests[1].header("stripe-account"), None);
}

/// A redirect (from Stripe or a proxy in front of it) says nothing about the object: the
/// fetch fails transiently, so the event is retried rather than acknowledged, and the
/// redirect is never followed (the key must not go to wherever `Location` points).
#[tokio::test]
async fn a_redirect_is_transient_and_never_followed() {
    for status in [301u16, 302, 307, 308] {
        let elsewhere = FakeStripe::start(vec![Reply::json(200, sub("sub_moved"))]).await;
        let location = format!("{}/v1/subscriptions/sub_moved", elsewhere.base);
        let server = FakeStripe::start(vec![
            Reply::json(status, json!({})).header("Location", &location)
        ])
        .await;
        let h = hydrator(&server.base, "sk_test_fake", fast_policy());
        let d = delivery(thin_reference(
            "customer.subscription.updated",
            "subscription",
            "sub_moved",
        ));
        let err = h.fetch(&d, soon()).await.unwrap_err();
        assert!(
            matches!(&err, HydrateError::Transient(m) if m.contains(&status.to_string())),
            "{status}: {err:?}"
        );
        assert!(elsewhere.requests().is_empty(), "{status}: followed");
        assert_eq!(server.requests().len(), 1, "{status}: not retried at once");
    }
}

/// A v1 event of a connected account (`account` in the event) is fetched as that account
/// (`Stripe-Account`), else Stripe answers 404; the EventBridge envelope's `account` (the AWS
/// account) is never sent.
#[tokio::test]
async fn a_connected_accounts_event_is_fetched_with_stripe_account() {
    let server = FakeStripe::start(vec![
        Reply::json(200, sub("sub_conn")),
        Reply::json(200, sub("sub_conn")),
    ])
    .await;
    let h = hydrator(&server.base, "sk_test_fake", fast_policy());
    let mut connected = thin_reference("customer.subscription.updated", "subscription", "sub_conn");
    connected["detail"]["account"] = json!("acct_1Conn");
    let d = delivery(connected);
    assert_eq!(d.stripe_account.as_deref(), Some("acct_1Conn"));
    h.fetch(&d, soon()).await.unwrap();
    let platform = delivery(thin_reference(
        "customer.subscription.updated",
        "subscription",
        "sub_conn",
    ));
    assert_eq!(
        platform.stripe_account, None,
        "the envelope's account is AWS's"
    );
    h.fetch(&platform, soon()).await.unwrap();
    let requests = server.requests();
    assert_eq!(requests[0].header("stripe-account"), Some("acct_1Conn"));
    assert_eq!(requests[1].header("stripe-account"), None);
}

//! Current-shape objects (Stripe's own examples from `stripe-openapi-fixtures3.json`, API
//! 2025+: period on the items, `price`, invoice `parent`) hydrated from a local HTTP server
//! and projected with `project`.

use std::time::{Duration, Instant};

use serde_json::Value;
use stripe_events_core::hydrate::Hydrator;
use stripe_events_core::project::{project, Projection};
use stripe_events_testkit::events::*;
use stripe_events_testkit::stripe::*;

/// Stripe's example objects, kept in the repository (`fixtures/stripe-openapi/`, MIT).
fn fixtures3() -> Value {
    let all: Value = stripe_events_testkit::fixtures::fixture("stripe-openapi/fixtures3.json");
    all["resources"].clone()
}

async fn hydrate_and_project(
    event_type: &str,
    object: &Value,
) -> Vec<stripe_events_core::project::StateWrite<'static>> {
    let object_type = object["object"].as_str().unwrap();
    let id = object["id"].as_str().unwrap();
    let server = FakeStripe::start(vec![Reply::json(200, object.clone())]).await;
    let h = hydrator(&server.base, "sk_test_fake", fast_policy());
    let d = delivery(thin_v2(
        &format!("v1.{event_type}"),
        object_type,
        id,
        Some(&format!("/v1/{object_type}s/{id}")),
        None,
    ));
    let fetched = h
        .fetch(&d, Instant::now() + Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(h.calls(), 1);
    assert_eq!(&fetched.json(), object);
    match project(d.base_type(), &fetched.json(), None).unwrap() {
        Projection::Items(items) => items,
        other => panic!("{event_type}: {other:?}"),
    }
}

#[tokio::test]
async fn current_subscription_period_comes_from_items_and_prices_are_read() {
    let resources = fixtures3();
    let sub = &resources["subscription"];
    assert!(
        sub["current_period_start"].is_null(),
        "fixture is the current shape"
    );
    let items = sub["items"]["data"].as_array().unwrap();
    let starts: Vec<i64> = items
        .iter()
        .map(|i| i["current_period_start"].as_i64().unwrap())
        .collect();
    let ends: Vec<i64> = items
        .iter()
        .map(|i| i["current_period_end"].as_i64().unwrap())
        .collect();

    let writes = hydrate_and_project("customer.subscription.updated", sub).await;
    let w = &writes[0];
    assert_eq!(
        w.pk,
        format!("CUSTOMER#{}", sub["customer"].as_str().unwrap())
    );
    assert_eq!(
        w.sk,
        format!("SUBSCRIPTION#{}", sub["id"].as_str().unwrap())
    );
    assert_eq!(w.fields_json()["status"], sub["status"]);
    assert_eq!(
        w.fields_json()["current_period_start"],
        starts.iter().min().copied().unwrap()
    );
    assert_eq!(
        w.fields_json()["current_period_end"],
        ends.iter().max().copied().unwrap()
    );
    let fields = w.fields_json();
    let price_ids: Vec<&Value> = fields["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| &i["price_id"])
        .collect();
    let expected: Vec<&Value> = items.iter().map(|i| &i["price"]["id"]).collect();
    assert_eq!(price_ids, expected);
    assert!(expected[0].as_str().unwrap().starts_with("price_"));
}

#[tokio::test]
async fn current_invoice_and_customer_project() {
    let resources = fixtures3();
    let invoice = &resources["invoice"];
    let writes = hydrate_and_project("invoice.paid", invoice).await;
    let w = &writes[0];
    assert_eq!(w.fields_json()["object_id"], invoice["id"]);
    assert_eq!(w.fields_json()["status"], invoice["status"]);
    // 2025-03-31 moved `subscription` under `parent.subscription_details`.
    assert!(invoice.get("subscription").is_none_or(Value::is_null));
    assert_eq!(
        w.fields_json()["subscription_id"],
        invoice["parent"]["subscription_details"]["subscription"]
    );

    let customer = &resources["customer"];
    let writes = hydrate_and_project("customer.updated", customer).await;
    assert_eq!(
        writes[0].pk,
        format!("CUSTOMER#{}", customer["id"].as_str().unwrap())
    );
    assert_eq!(writes[0].sk, "PROFILE");
    assert_eq!(writes[0].fields_json()["email"], customer["email"]);
}
